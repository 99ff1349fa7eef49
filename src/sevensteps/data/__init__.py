"""Data you can trust: sources of digits, their checks, and batches for training."""

from .dataset import DataError, Dataset, stratified_split
from .idx import read_idx, read_idx_folder, read_idx_pair, write_idx
from .loader import DataLoader, DataLoaders, TensorDataset, collate, first
from .sources import NAMED_SOURCES, Splits, load_source, load_splits, parse_digits

__all__ = [
    "NAMED_SOURCES", "DataError", "DataLoader", "DataLoaders", "Dataset", "Splits", "TensorDataset", "collate", "first",
    "load_source", "load_splits",
    "parse_digits", "read_idx", "read_idx_folder", "read_idx_pair", "stratified_split", "write_idx",
]
