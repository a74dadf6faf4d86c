import Foundation

/// How tokens are chosen. Temperature 0 is greedy (argmax, computed on the backend); otherwise
/// every token — micro-step tokens included — is drawn from softmax(logits / temperature)
/// restricted to the `topK` most likely tokens and to the smallest set whose probability
/// reaches `topP`.
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Double = 0
    public var topK: Int = 0
    public var topP: Double = 1
    public var seed: UInt64 = 0

    public init(temperature: Double = 0, topK: Int = 0, topP: Double = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public var isGreedy: Bool { temperature == 0 }

    public func validate() throws {
        guard temperature >= 0, temperature.isFinite else {
            throw GenerationError.invalidSampling("--temperature is \(temperature); expected a number >= 0")
        }
        guard topK >= 0 else { throw GenerationError.invalidSampling("--top-k is \(topK); expected a number >= 0 (0: off)") }
        guard topP > 0, topP <= 1 else { throw GenerationError.invalidSampling("--top-p is \(topP); expected a value in (0, 1]") }
    }
}

/// Draws tokens from logits on the host with a seeded generator, so a seed reproduces a run.
public struct Sampler {
    public let options: SamplingOptions
    private var state: UInt64
    private var candidates: [(index: Int32, value: Float)] = []

    public init(options: SamplingOptions) {
        self.options = options
        state = options.seed &+ 0x9E37_79B9_7F4A_7C15
    }

    /// SplitMix64: small, fast and good enough to pick tokens.
    private mutating func nextUniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }

    public mutating func sample(_ logits: [Float]) -> Int32 {
        let inverseTemperature = Float(1 / options.temperature)
        candidates.removeAll(keepingCapacity: true)
        for (i, value) in logits.enumerated() { candidates.append((Int32(i), value * inverseTemperature)) }
        if options.topK > 0 && options.topK < candidates.count {
            // Partial selection is enough for top-k; sort what remains for top-p.
            candidates.sort { $0.value > $1.value }
            candidates.removeSubrange(options.topK...)
        } else if options.topP < 1 {
            candidates.sort { $0.value > $1.value }
        }
        let maximum = candidates.reduce(-Float.infinity) { max($0, $1.value) }
        var weights = candidates.map { Double(expf($0.value - maximum)) }
        var total = weights.reduce(0, +)
        if options.topP < 1 {
            var kept = 0, mass = 0.0
            while kept < weights.count {
                mass += weights[kept] / total
                kept += 1
                if mass >= options.topP { break }
            }
            weights.removeSubrange(kept...)
            total = weights.reduce(0, +)
        }
        var target = nextUniform() * total
        for (i, w) in weights.enumerated() {
            target -= w
            if target < 0 { return candidates[i].index }
        }
        return candidates[weights.count - 1].index
    }
}
