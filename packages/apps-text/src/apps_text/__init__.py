"""apps_text: language models and text classifiers in a few lines."""

from apps_text.__about__ import __version__
from apps_text.rules import fix_html

__all__ = ["__version__", "fix_html"]
