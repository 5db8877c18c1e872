"""A throw-away OpenStack + Ceph cloud on 127.0.0.1 for this collection's tests and demo.

Keystone, Glance (multi-store), a Swift all-in-one and a single-node Ceph (mon, mgr, memstore
OSD, RADOS Gateway). Standard library only: it runs before any virtualenv exists.
"""
