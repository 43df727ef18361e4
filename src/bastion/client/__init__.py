"""Talk to a Bastion registry from Python, over HTTPS with certificate verification on.

>>> from bastion.client import Client
>>> client = Client.from_login()                        # doctest: +SKIP
>>> client.push("./my-model", "team/my-model:1.0")      # doctest: +SKIP
>>> client.pull("team/my-model:1.0", "./out")           # doctest: +SKIP
"""

from bastion.client._client import Client, ClientError, Ref
from bastion.client._login import Login, load_login, save_login

__all__ = ["Client", "ClientError", "Login", "Ref", "load_login", "save_login"]
