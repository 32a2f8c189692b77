"""Workbench pages. Each file runs as a Streamlit page (``if __name__ == "__main__": main()``) or
exposes ``render(db, user)``; ``workbench/app.py`` wires them into navigation per role."""
