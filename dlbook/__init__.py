"""dlbook: the code behind the executable bilingual deep-learning book.

Every chapter of the book imports from here; nothing the book shows is defined twice.
"""

__version__ = "0.2.0"
