# The file `jupyterhub -f` reads for a MailLab workshop (`maillab workshop up` starts it).
# Everything is in workshop/hub.py; the settings come from the workshop's settings.json.
from workshop.hub import configure, load_settings

configure(get_config(), load_settings())  # noqa: F821 - get_config is given by JupyterHub
