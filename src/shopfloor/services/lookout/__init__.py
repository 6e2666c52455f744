"""AWS Lookout for Equipment, spoken over Shopfloor's services (the AWS JSON 1.0 protocol).

Each module holds the operations of one resource as an ``OPERATIONS`` table
(:mod:`~shopfloor.services.lookout.operations`); :mod:`~shopfloor.services.lookout.catalog` joins
the tables, and the one route (``POST /aws/lookoutequipment``) dispatches to it.
"""
