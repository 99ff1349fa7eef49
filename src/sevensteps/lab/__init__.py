"""The live lab: watch and drive the seven steps in a browser (``sevensteps lab``).

``session`` drives the project's Learner through its events (by its ``pacer`` callback); ``server``
serves the page and the live stream; ``static/`` is the page itself (plain JavaScript, no build step,
works offline).
"""
