import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamVulkan
import Testing

/// Whole generations on the Vulkan backend: the base model against the reference fixture's
/// expected tokens and logits, and a HAMburger model whose modules are stored in three dtypes
/// (the fixture's base model with random modules) step for step against the CPU backend.
@Suite(.serialized, .enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct EndToEndTests {
    static let baseCases = ReferenceFixture.cases.indices.filter { ReferenceFixture.cases[$0].mode == "base" }

    @Test func fixtureHasBaseCases() {
        #expect(!Self.baseCases.isEmpty)
    }

    @Test(arguments: baseCases)
    func baseCaseMatchesTheReference(index: Int) throws {
        let c = ReferenceFixture.cases[index]
        let vulkan = try VulkanTestDevice.backend()
        let engine = try ModelFiles(path: ReferenceFixture.base.path).engine(on: vulkan)
        for difference in try ReferenceCases.differences(c, engine: engine) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }

    /// A 250-token context in 16 blocks of the paged cache, prefilled in chunks of 100 rows, with
    /// cached descriptor sets: the same tokens as the CPU backend.
    @Test func longContextKeepsTheTokens() throws {
        var random = RandomModel.Random(seed: 3)
        let prompt = (0..<250).map { _ in Int32(random.next() % 1000) }
        func tokens<B: Backend>(_ backend: B) throws -> [Int32] {
            let engine = try ModelFiles(path: ReferenceFixture.base.path).engine(on: backend, slots: 270, prefillTokensPerTick: 100)
            return try engine.generate(GenerationRequest(prompt: prompt, options: GenerationOptions(maxTokens: 12, mode: .base))).tokens
        }
        let vulkan = try VulkanTestDevice.backend(VulkanOptions(pushDescriptors: false))
        #expect(try tokens(vulkan) == tokens(CPUBackend(threads: 2)))
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }

    /// The fixture's base model plus random HAMburger modules in three dtypes, written once.
    static let hamburgerModel: Result<String, Error> = Result {
        let directory = ScratchDirectory.root + "vulkan-hamburger-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: ReferenceFixture.base.appendingPathComponent("config.json"))) as? [String: Any] ?? [:]
        config["hamburger"] = ["max_steps": 4]
        let configData = try JSONSerialization.data(withJSONObject: config)
        try configData.write(to: URL(fileURLWithPath: directory + "/config.json"))
        let parsed = try ModelConfig.parse(configData, path: directory + "/config.json")
        let base = try SafeTensorsFile(path: ReferenceFixture.base.appendingPathComponent("model.safetensors").path)
        var tensors = try base.names.map { (name: $0, tensor: try base.tensor($0)) }
        var random = RandomModel.Random(seed: 7)
        guard let hamburger = parsed.hamburger else { throw VulkanError.unsupported("no hamburger config") }
        // Merger in bf16, micro-step decoder in f32 (as the authors train it), stop head in f16.
        for (name, tensor) in RandomModel.hamburgerTensors(parsed, hamburger, dtype: .f32, random: &random) {
            let dtype: DType = name.hasPrefix("comp_embedder") ? .bf16 : name.contains("stop_head") ? .f16 : .f32
            tensors.append((name, tensor.converted(to: dtype)))
        }
        try SafeTensorsWriter.write(tensors, to: directory + "/model.safetensors")
        return directory
    }

    struct Run: Equatable {
        var steps: [[Int32]]
        var stopProbabilities: [Float]
    }

    /// A HAMburger generation; with `trace`, every micro step's logits are read.
    func generate<B: Backend>(_ backend: B, prompt: [Int32], confidence: Double, trace: Bool) throws -> (Run, [[Float]]) {
        let engine = try ModelFiles(path: try Self.hamburgerModel.get()).engine(on: backend)
        var logits: [[Float]] = [], stops: [Float] = []
        let request = GenerationRequest(prompt: prompt, options: GenerationOptions(maxTokens: 24, confidence: confidence, mode: .hamburger),
                                        traceLogits: trace)
        let result = try engine.generate(request) { event in
            if case .trace(_, let t) = event {
                logits.append(t.logits)
                stops.append(t.stopProbability)
            }
        }
        return (Run(steps: result.steps, stopProbabilities: stops), logits)
    }

    @Test(arguments: [(0.5, true), (0.9, false)])
    func hamburgerStepsMatchTheCPUBackend(confidence: Double, trace: Bool) throws {
        let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292, 308, 11, 332]
        let (cpu, cpuLogits) = try generate(CPUBackend(threads: 2), prompt: prompt, confidence: confidence, trace: trace)
        do {
            let vulkan = try VulkanTestDevice.backend()
            let (gpu, gpuLogits) = try generate(vulkan, prompt: prompt, confidence: confidence, trace: trace)
            #expect(gpu.steps == cpu.steps, "confidence \(confidence)")
            #expect(cpu.steps.count > 1)
            for (a, b) in zip(gpu.stopProbabilities, cpu.stopProbabilities) {
                #expect(abs(a - b) < 1e-4, "stop probability \(a) vs \(b)")
            }
            for (a, b) in zip(gpuLogits, cpuLogits) {
                let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                #expect(worst < 1e-3, "largest logit difference \(worst)")
            }
            #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
        }
    }

    /// The same model quantized (`hamrun quantize`; q4_k mixes q4_k, q6_k, q4_1 and q8_0 on
    /// this model's shapes): the same steps on both backends.
    @Test(arguments: [DType.q8_0, .q4_k, .q4_0])
    func quantizedModelMatchesTheCPUBackend(type: DType) throws {
        let output = ScratchDirectory.root + "vulkan-\(type)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        _ = try Quantizer.quantize(model: try Self.hamburgerModel.get(), output: output, to: type)
        let prompt: [Int32] = [1019, 418, 308, 11, 535, 327, 292, 308, 11, 332]
        func steps<B: Backend>(_ backend: B) throws -> [[Int32]] {
            return try ModelFiles(path: output).engine(on: backend)
                .generate(GenerationRequest(prompt: prompt, options: GenerationOptions(maxTokens: 24, confidence: 0.5))).steps
        }
        let vulkan = try VulkanTestDevice.backend()
        #expect(try steps(vulkan) == steps(CPUBackend(threads: 2)))
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }
}
