"""What the pages share of the GUI, so that no page imports another: the page base the main window talks to,
status lines and notices, photo files (the file dialogs' filter, drops from a file manager), layer list actions."""
