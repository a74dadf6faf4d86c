import HamCore

/// What a sync point and a dispatch cost on a device (`hamrun devices --latency`): an engine
/// tick is one submission and one read, plus some two hundred dependent dispatches.
public struct LatencyReport: Sendable, CustomStringConvertible {
    /// One tiny dispatch submitted and waited for (`synchronize`).
    public var submitMicroseconds: Double
    /// One tiny dispatch, then a 4-byte read: a stop decision's round trip.
    public var readMicroseconds: Double
    /// Per dispatch, in a submission of many small dependent dispatches (each after a barrier).
    public var dispatchMicroseconds: Double

    public var description: String {
        func f(_ x: Double) -> String { String(Int(x.rounded())) }
        return "submit+wait \(f(submitMicroseconds)) µs, dispatch+read \(f(readMicroseconds)) µs, "
            + "\(String(format: "%.1f", dispatchMicroseconds)) µs per dependent dispatch"
    }
}

extension VulkanBackend {
    /// Medians of `iterations` runs of each measurement.
    public func measureLatency(iterations: Int = 200) throws -> LatencyReport {
        let x = try allocate(rows: 1, cols: 64, dtype: .f32)
        write([Float](repeating: 0.5, count: 64), to: x)
        try synchronize()
        func median(_ body: () throws -> Void) rethrows -> Double {
            var samples: [Double] = []
            for _ in 0..<max(iterations, 1) {
                let start = ContinuousClock.now
                try body()
                samples.append((ContinuousClock.now - start).seconds * 1e6)
            }
            return samples.sorted()[samples.count / 2]
        }
        let submit = try median {
            sigmoid(x, out: x)
            try synchronize()
        }
        let read = try median {
            sigmoid(x, out: x)
            _ = try self.read(x.reshaped(rows: 64, cols: 1).row(0))
        }
        let batch = 500
        let start = ContinuousClock.now
        for _ in 0..<batch { silu(x, out: x) }
        try synchronize()
        let perDispatch = ((ContinuousClock.now - start).seconds * 1e6 - submit) / Double(batch)
        return LatencyReport(submitMicroseconds: submit, readMicroseconds: read, dispatchMicroseconds: max(perDispatch, 0))
    }
}
