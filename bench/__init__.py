"""Quality benchmark: synthetic dialogues with exact references (dialogues.py) and the scorer (quality.py)."""
