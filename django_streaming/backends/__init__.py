"""The backends of the stores, one package each, at the bottom of the layers: they implement
the interfaces of ``django_streaming.stores`` and import nothing above them."""
