//! cptkit gRPC server.
