"""The model registry as a library (layer 3): namespaces, models, immutable versions,
encrypted blobs, upload sessions that scan everything, policies, quarantine, key rotation.
The HTTP API over it is :mod:`bastion.server`; the client is :mod:`bastion.client`."""

from bastion.registry.blobs import BlobStore
from bastion.registry.keys import rotate_keys
from bastion.registry.policy import NamespacePolicy
from bastion.registry.service import Registry, VersionState
from bastion.registry.upload import Uploads

__all__ = ["BlobStore", "NamespacePolicy", "Registry", "Uploads", "VersionState", "rotate_keys"]
