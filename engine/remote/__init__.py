"""Sessions behind a socket (issue 14): the protocol (docs/protocol.md), its server in the
session process and `RemoteSession`, the client a viewer drives like a local session."""
