"""The pieces of the simulated IB Gateway (see :mod:`lib.sim.tws_gateway`).

framing (length-prefixed NUL fields, handshake), encode (server -> client
messages at server version 178), decode (client -> server requests), contracts
(instruments as IB contracts), book (the gateway's orders over SimBroker),
session (one client connection), faults (injection), pacing (the one place
that reads the event loop's clock).
"""
