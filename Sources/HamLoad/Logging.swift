import Logging

/// Loading events (files, tensors, dtypes) at `info`, in the runtime's log.
let log = Logger(label: "hamrun")
