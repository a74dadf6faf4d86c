import Logging

/// The runtime's log: model loading, backend and KV-cache events at `info`/`debug`, every macro
/// step's tokens and stop probabilities at `trace`. Front ends choose the level and destination
/// (`hamrun --log-level`).
let log = Logger(label: "hamrun")
