import Foundation
import Testing
@testable import HamCore
import HamCPU
import HamChecks
@testable import HamLoad

/// The real model, SmolLM2-135M-Instruct.Q4_1.gguf (Tools/fetch-models; Tools/install-deps, and
/// so Tools/test and CI, run it; without it these tests are skipped, saying why), against Hugging
/// Face transformers in float32 on the same file (Tests/Fixtures/smollm2-ref,
/// Tools/gguf/make_smollm2_reference.py). transformers dequantizes the Q4_1 and Q8_0 blocks to the
/// values hamrun's kernels decode them to, so the logits must agree to float32 rounding, and the
/// greedy tokens exactly, except after a step where transformers' own top two are within rounding.
@Suite struct SmolLM2Tests {
    struct Step: Decodable {
        var top2: [Int32]
        var top2_logits: [Float]
    }

    struct Case: Decodable {
        var kind: String
        var prompt: String
        var prompt_ids: [Int32]
        var greedy_ids: [Int32]
        var steps: [Step]
        /// Over the whole vocabulary, after the prompt.
        var logsumexp: Double
        var mean: Double
    }

    struct Reference: Decodable {
        var steps: Int
        var vocabulary: Int
        var cases: [Case]
    }

    /// The logits after each prompt at the ids the fixture keeps (its top 128 and 384 more).
    struct LastLogits {
        var ids: [[Int32]]
        var logits: [[Float]]

        init(file: SafeTensorsFile) throws {
            let shape = try #require(file.entries["ids"]?.shape)
            let width = shape[1]
            let ids = try file.tensor("ids").ids(), logits = try file.tensor("logits").floats()
            self.ids = stride(from: 0, to: ids.count, by: width).map { Array(ids[$0..<($0 + width)]) }
            self.logits = stride(from: 0, to: logits.count, by: width).map { Array(logits[$0..<($0 + width)]) }
        }
    }

    /// llama.cpp on the same file and prompts (Tools/gguf/compare_llama_cpp.py): its greedy ids and
    /// its largest logit error after the prompt (at the kept ids) against transformers.
    struct LlamaCpp: Decodable {
        struct Case: Decodable {
            var greedy_ids: [Int32]
            var last_logits_max_abs_diff: Float
        }
        var cases: [Case]
    }

    /// Logits agree when |hamrun - transformers| <= tolerance · max(1, |transformers|).
    static let tolerance: Float = 1e-3

    static let fixture = Fixtures.root.appendingPathComponent("smollm2-ref")
    static let reference: Result<Reference, Error> = Result {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture.appendingPathComponent("cases.json")))
    }
    static let lastLogits: Result<LastLogits, Error> = Result {
        try LastLogits(file: SafeTensorsFile(path: fixture.appendingPathComponent("last_logits.safetensors").path))
    }

    static let llamaCpp: Result<LlamaCpp, Error> = Result {
        try JSONDecoder().decode(LlamaCpp.self, from: Data(contentsOf: fixture.appendingPathComponent("llama_cpp.json")))
    }

    static let haveModel = FileManager.default.fileExists(atPath: SmolLM2Model.path)
    static let model: Result<ModelFiles, Error> = Result { try ModelFiles(path: SmolLM2Model.path) }

    @Test func referenceIsPresent() throws {
        let reference = try Self.reference.get()
        let last = try Self.lastLogits.get()
        #expect(reference.cases.count >= 20)
        #expect(reference.vocabulary == 49152)
        #expect(reference.cases.allSatisfy { $0.greedy_ids.count == 32 && $0.steps.count == 32 })
        #expect(reference.cases.contains { $0.prompt_ids.count > 128 }, "one prompt is longer than a prefill chunk")
        #expect(reference.cases.contains { $0.kind == "chat" } && reference.cases.contains { $0.kind == "text" })
        #expect(last.ids.count == reference.cases.count && last.logits.count == reference.cases.count)
        #expect(last.ids.allSatisfy { $0.count == 512 && Set($0).count == 512 && $0.allSatisfy { $0 >= 0 && $0 < 49152 } })
        let llama = try Self.llamaCpp.get()
        #expect(llama.cases.count == reference.cases.count && llama.cases.allSatisfy { $0.greedy_ids.count == reference.steps })
    }

    @Test(.enabled(if: haveModel, "needs Tools/fetch-models"))
    func configAndTypes() throws {
        let model = try Self.model.get()
        let c = model.config
        #expect(c.numHiddenLayers == 30 && c.hiddenSize == 576 && c.intermediateSize == 1536)
        #expect(c.numAttentionHeads == 9 && c.numKeyValueHeads == 3 && c.headDim == 64)
        #expect(c.vocabSize == 49152 && c.tieWordEmbeddings && c.ropeTheta == 100000)
        #expect(c.ropePairing == .adjacent && c.ropeFrequencyFactors == nil)
        #expect(model.eosTokenIds == [2] && model.bosTokenId == 1)
        #expect(model.weights.dtype(of: "model.embed_tokens.weight") == .q8_0)
        #expect(model.weights.dtype(of: "model.layers.0.self_attn.q_proj.weight") == .q4_1)
        #expect(model.weights.dtype(of: "model.layers.29.mlp.down_proj.weight") == .q4_1)
        #expect(model.weights.dtype(of: "model.norm.weight") == .f32)
    }

    /// Every prompt, all at once on one engine (the batched decode `hamrun batch` runs; one
    /// weight read per tick keeps this fast), each against transformers: the logits after the
    /// prompt (the kept ones, and logsumexp and mean over the vocabulary), and each greedy step's
    /// token and the logit of transformers' token. And against llama.cpp: the same greedy tokens
    /// until llama.cpp parts, and where it does, hamrun's margin between its token and
    /// llama.cpp's is within twice llama.cpp's own logit error (its 8-bit activations).
    @Test(.enabled(if: haveModel, "needs Tools/fetch-models"))
    func matchesTransformers() throws {
        let reference = try Self.reference.get()
        let last = try Self.lastLogits.get()
        let llama = try Self.llamaCpp.get()
        let longest = reference.cases.map(\.prompt_ids.count).max() ?? 0
        let engine = try Self.model.get().engine(on: CPUBackend(), hamburger: false, sequences: reference.cases.count,
                                                 slots: longest + reference.steps)
        var ids: [SequenceID: Int] = [:]
        for (index, c) in reference.cases.enumerated() {
            let request = GenerationRequest(prompt: c.prompt_ids, options: GenerationOptions(maxTokens: reference.steps, mode: .base),
                                            traceLogits: true)
            ids[try engine.submit(request)] = index
        }
        var checks = reference.cases.enumerated().map { index, c in
            CaseCheck(label: "case \(index) (\(c.kind) '\(c.prompt.prefix(40))')", reference: c,
                      keptIds: last.ids[index], keptLogits: last.logits[index], llamaCpp: llama.cases[index])
        }
        var finished = 0
        while finished < reference.cases.count {
            for event in try engine.step() {
                guard let index = ids[event.sequence] else { continue }
                switch event {
                case .trace(_, let trace): checks[index].observe(trace.logits)
                case .finished(_, let result):
                    checks[index].finish(result.tokens)
                    finished += 1
                case .failed(_, let error, _):
                    Issue.record("\(checks[index].label): \(error)")
                    finished += 1
                default: break
                }
            }
        }
    }

    /// One prompt's comparison, fed with each micro step's logits as they come.
    struct CaseCheck {
        let label: String
        let reference: Case
        let keptIds: [Int32]
        let keptLogits: [Float]
        let llamaCpp: LlamaCpp.Case
        var step = 0
        /// llama.cpp parted from hamrun; later steps are not compared with it.
        var partedFromLlamaCpp = false
        /// hamrun took transformers' second token at a near-tie; later steps are not compared.
        var diverged = false
        var tokens: [Int32] = []

        mutating func observe(_ logits: [Float]) {
            defer { step += 1 }
            guard logits.count == 49152 else {
                Issue.record("\(label): \(logits.count) logits; expected 49152")
                return
            }
            if step == 0 { checkLastLogits(logits) }
            // Greedy: the first of the largest logits, as the engine's argmax.
            let token = Int32(logits.indices.max { logits[$0] < logits[$1] } ?? -1)
            tokens.append(token)
            guard !diverged, step < reference.steps.count else { return }
            if !partedFromLlamaCpp, step < llamaCpp.greedy_ids.count, llamaCpp.greedy_ids[step] != token {
                let theirs = llamaCpp.greedy_ids[step]
                let margin = logits[Int(token)] - logits[Int(theirs)]
                #expect(margin <= 2 * llamaCpp.last_logits_max_abs_diff,
                        "\(label) step \(step): llama.cpp chose \(theirs), \(margin) below hamrun's \(token); its logit error is \(llamaCpp.last_logits_max_abs_diff)")
                partedFromLlamaCpp = true
            }
            let expected = reference.steps[step]
            let top1 = logits[Int(expected.top2[0])]
            #expect(SmolLM2Tests.relative(top1, expected.top2_logits[0]) <= SmolLM2Tests.tolerance,
                    "\(label) step \(step): logit of token \(expected.top2[0]) is \(top1); transformers \(expected.top2_logits[0])")
            if token != expected.top2[0] {
                // Allowed only where transformers' own top two are within rounding; the
                // continuations then differ and are not compared further.
                let margin = expected.top2_logits[0] - expected.top2_logits[1]
                #expect(token == expected.top2[1] && margin <= SmolLM2Tests.tolerance * max(1, abs(expected.top2_logits[0])),
                        "\(label) step \(step): token \(token); transformers \(expected.top2[0]) by a margin of \(margin)")
                diverged = true
            }
        }

        func checkLastLogits(_ logits: [Float]) {
            let worst = zip(keptIds, keptLogits).map { SmolLM2Tests.relative(logits[Int($0)], $1) }.max() ?? .infinity
            #expect(worst <= SmolLM2Tests.tolerance, "\(label): logits after the prompt differ by \(worst) relative")
            let top = logits.map(Double.init).max() ?? 0
            let logsumexp = top + log(logits.reduce(0) { $0 + exp(Double($1) - top) })
            let mean = logits.reduce(0) { $0 + Double($1) } / Double(logits.count)
            #expect(abs(logsumexp - reference.logsumexp) <= 1e-3 * max(1, abs(reference.logsumexp)),
                    "\(label): logsumexp \(logsumexp); transformers \(reference.logsumexp)")
            #expect(abs(mean - reference.mean) <= 1e-3 * max(1, abs(reference.mean)),
                    "\(label): mean logit \(mean); transformers \(reference.mean)")
        }

        func finish(_ result: [Int32]) {
            #expect(result == tokens, "\(label): generated \(result); its traces chose \(tokens)")
            if !diverged {
                #expect(result == reference.greedy_ids, "\(label): greedy \(result); transformers \(reference.greedy_ids)")
            }
        }
    }

    static func relative(_ a: Float, _ b: Float) -> Float { abs(a - b) / max(1, abs(b)) }
}

/// Where Tools/fetch-models puts the real model.
enum SmolLM2Model {
    static let name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["HAMRUN_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/hamrun")
        return (cache as NSString).appendingPathComponent("models/" + name)
    }
}
