"""The readers' side: signing up with double opt-in, confirming, preferences, leaving (by link,
one-click POST or mailto), imports and exports, and erasure. The web app, the CLI and the
daemon all come here, so each rule holds whichever way a reader or operator comes in."""
