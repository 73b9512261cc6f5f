"""The readers web app served by `publisher serve`: pages, feeds and archive files, health."""
