"""Crypto primitives and keys. Importing this package registers the SM OIDs with asn1crypto."""

from trustsvc.keys.algorithms import register_sm_oids

register_sm_oids()
