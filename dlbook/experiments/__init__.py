"""Chapter experiments: the functions a page calls to train and measure what it states.

One module per chapter, named like the chapter. They build on the library (``dlbook.nn``,
``dlbook.optim``, ``dlbook.train``, ``dlbook.data``, ...); the library never imports them.
"""
