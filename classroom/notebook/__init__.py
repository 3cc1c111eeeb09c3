"""MailLab in JupyterLab: what a lab notebook's first cell calls.

    from classroom.notebook import open_lab
    lab = open_lab("install-postfix")   # starts the machine; `!cmd` and %%bash now run inside it
    ...
    lab.check("install")                # the step's Check panel, already showing the result

The server side (`maillab up`) is classroom.notebook.server; the shell escapes are
classroom.notebook.shell, loaded by the MailLab kernel.
"""
from .home import course_home
from .notebook_lab import LabNotReady, NotebookLab, open_lab
from .panel import CheckPanel
from .shell import use_machine
from .workspace import install_notebooks, link_machine_root

__all__ = ["CheckPanel", "course_home", "LabNotReady", "NotebookLab", "install_notebooks", "link_machine_root",
           "open_lab", "use_machine"]
