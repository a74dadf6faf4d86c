import Foundation
import HamCore
import HamJSON
import HamLoad

/// Reference generations in the schema of the shared fixtures (`expected.json`): what the
/// HAMburger authors' PyTorch modules produced, to be reproduced token for token, step for step,
/// on any backend. The tests check them on the CPU and on Vulkan; `hamrun check --reference` on
/// any machine.
public struct ReferenceCases: Sendable {
    public var cases: [Case]

    public struct Case: Sendable {
        public var prompt: String?
        public var prompt_ids: [Int32]
        /// `nil` for a HAMburger generation, `"base"` for plain greedy decoding of the base model.
        public var mode: String?
        public var confidence: Double?
        public var max_new_tokens: Int?
        public var steps: [[Int32]]?
        public var micro_trace: [Trace]?
        public var stop_probs: [Float]?
        public var last_logits: [Float]?
        public var greedy_ids: [Int32]?

        init(_ json: JSONValue) throws {
            func ids(_ value: JSONValue) throws -> [Int32] { try value.array().map { Int32(try $0.integer(in: 0...Int(Int32.max))) } }
            func floats(_ value: JSONValue) throws -> [Float] { try value.array().map { try $0.float() } }
            prompt = try json.optional("prompt")?.string()
            prompt_ids = try ids(json.required("prompt_ids"))
            mode = try json.optional("mode")?.string(oneOf: ["base", "hamburger"])
            confidence = try json.optional("confidence")?.double(in: 0...1)
            max_new_tokens = try json.optional("max_new_tokens")?.integer(in: 0...1_000_000)
            steps = try json.optional("steps")?.array().map(ids)
            micro_trace = try json.optional("micro_trace")?.array().map(Trace.init)
            stop_probs = try json.optional("stop_probs").map(floats)
            last_logits = try json.optional("last_logits").map(floats)
            greedy_ids = try json.optional("greedy_ids").map(ids)
        }

        public var isBase: Bool { mode == "base" }
        public var maxTokens: Int { max_new_tokens ?? (isBase ? (greedy_ids?.count ?? 0) : 48) }
        public var label: String { "\(isBase ? "base" : "confidence \(confidence ?? 0)") '\(prompt ?? prompt_ids.map(String.init).joined(separator: ","))'" }

        /// The reference stops after the step that reaches the limit; hamrun cuts that step.
        public var expectedSteps: [[Int32]] {
            var out: [[Int32]] = [], total = 0
            for step in steps ?? [] where total < maxTokens {
                let kept = Array(step.prefix(maxTokens - total))
                out.append(kept)
                total += kept.count
            }
            return out
        }
    }

    public struct Trace: Sendable {
        public var top2: [Int32]
        public var top2_logits: [Float]
        public var logsumexp: Float

        init(_ json: JSONValue) throws {
            let top2 = try json.required("top2")
            self.top2 = try top2.array().map { Int32(try $0.integer(in: 0...Int(Int32.max))) }
            guard self.top2.count == 2 else { throw top2.mismatch("two token ids") }
            let logits = try json.required("top2_logits")
            top2_logits = try logits.array().map { try $0.float() }
            guard top2_logits.count == 2 else { throw logits.mismatch("two logits") }
            logsumexp = try json.required("logsumexp").float()
        }
    }

    /// Reads `path`; every error names the file and the field.
    public static func load(path: String) throws -> ReferenceCases {
        let bytes = try readFile(path)
        return try withLoadErrors {
            let root = try JSONDocument(bytes, source: path).root
            let list = try root.required("cases")
            let cases = try list.array().map(Case.init)
            guard !cases.isEmpty else { throw list.mismatch("at least one case (as in the shared fixtures)") }
            return ReferenceCases(cases: cases)
        }
    }

    public init(cases: [Case]) {
        self.cases = cases
    }

    /// Tolerances of the issue: logits within 1e-3, stop probabilities within 1e-4.
    public static let logitTolerance: Float = 1e-3
    public static let stopTolerance: Float = 1e-4

    /// The request that reproduces `c` (greedy, every micro step's logits traced).
    public static func request(_ c: Case) -> GenerationRequest {
        let options = GenerationOptions(maxTokens: c.maxTokens, confidence: c.confidence ?? ModelConfig.defaultConfidence,
                                        mode: c.isBase ? .base : .hamburger)
        return GenerationRequest(prompt: c.prompt_ids, options: options, traceLogits: true)
    }

    /// Runs `c` alone on `engine` and returns every difference from the reference (none: it
    /// reproduces).
    public static func differences(_ c: Case, engine: InferenceEngine) throws -> [String] {
        var traces: [MicroStepTrace] = []
        let result = try engine.generate(request(c)) { event in
            if case .trace(_, let trace) = event { traces.append(trace) }
        }
        return differences(c, result: result, traces: traces)
    }

    /// Every difference between a generation (its result and its micro steps' traces) and the
    /// reference. HAMburger cases compare tokens, step boundaries, and each micro step's token,
    /// top-1 logit, logsumexp and stop probability; base cases the greedy ids and the logits
    /// after the prompt.
    public static func differences(_ c: Case, result: GenerationResult, traces: [MicroStepTrace]) -> [String] {
        var failures: [String] = []
        if c.isBase {
            if result.tokens != c.greedy_ids ?? [] {
                failures.append("greedy ids \(result.tokens); expected \(c.greedy_ids ?? [])")
            }
            if let reference = c.last_logits, let logits = traces.first?.logits {
                if logits.count != reference.count {
                    failures.append("\(logits.count) logits; expected \(reference.count)")
                } else if let worst = zip(logits, reference).map({ abs($0 - $1) }).max(), worst >= logitTolerance {
                    failures.append("logits after the prompt differ by up to \(worst)")
                }
            }
            return failures
        }

        if result.steps != c.expectedSteps {
            failures.append("steps \(result.steps); expected \(c.expectedSteps)")
        }
        let reference = c.micro_trace ?? [], stops = c.stop_probs ?? []
        if traces.count != min(reference.count, c.maxTokens) {
            failures.append("\(traces.count) micro steps; expected \(min(reference.count, c.maxTokens))")
        }
        for (i, trace) in traces.enumerated() where i < reference.count && i < stops.count {
            let top = trace.logits.max() ?? 0
            let logSumExp = top + Float(log(trace.logits.reduce(0.0) { $0 + exp(Double($1 - top)) }))
            if trace.token != reference[i].top2[0] {
                failures.append("micro step \(i): token \(trace.token); expected \(reference[i].top2[0])")
            }
            if abs(top - reference[i].top2_logits[0]) >= logitTolerance {
                failures.append("micro step \(i): top-1 logit \(top); expected \(reference[i].top2_logits[0])")
            }
            if abs(logSumExp - reference[i].logsumexp) >= logitTolerance {
                failures.append("micro step \(i): logsumexp \(logSumExp); expected \(reference[i].logsumexp)")
            }
            if abs(trace.stopProbability - stops[i]) >= stopTolerance {
                failures.append("micro step \(i): stop probability \(trace.stopProbability); expected \(stops[i])")
            }
        }
        return failures
    }
}
