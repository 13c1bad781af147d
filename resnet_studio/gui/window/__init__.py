"""The parts the main window (gui.main_window) is composed of, one concern per module.

- `actions`: every QAction, the menus and the toolbar.
- `files`: new, open, save, recent files, crash recovery, the unsaved-changes question.
- `edit`: clipboard and block commands, the canvas context menu, which edit actions apply.
- `run_tabs`: the lazily made run tabs (Training, Compare, Runs) and the runs they start;
  a new kind of run or view is one `RunTab` entry there.
- `status`: the status bar's build and backend indicators, and what a backend brings.
- `panes`: the dock widgets, the editing workspace, appearance.
- `help_menu`: the keyboard-shortcut table, About, the residual-connections help.
"""
