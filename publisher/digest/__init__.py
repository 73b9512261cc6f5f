"""What goes into a digest and when: due times (``schedule``), editions (``plan``), templates
(``render``), each reader's message (``compose``), the public archive (``archive``) and
previews (``preview``). Each is called by ``jobs.py``; none runs another as a side effect."""
