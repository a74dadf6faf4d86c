import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamVulkan
import Testing

/// Every HAMburger case of the reference fixture on the Vulkan backend, as ReferenceFixtureTests
/// checks the CPU backend: the authors' PyTorch modules' tokens and step boundaries, and the top
/// logit, logsumexp and stop probability of every micro step.
@Suite(.serialized, .enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct ReferenceHAMburgerTests {
    static let cases = ReferenceFixture.cases.indices.filter { !ReferenceFixture.cases[$0].isBase }

    /// One backend for all cases: a fresh engine per case, as a server would reuse its device.
    static let backend = Result { try VulkanTestDevice.backend() }

    @Test func fixtureHasHAMburgerCases() {
        #expect(Self.cases.count >= 6)
    }

    @Test(arguments: cases)
    func hamburgerCaseMatchesTheReference(index: Int) throws {
        let c = ReferenceFixture.cases[index]
        let vulkan = try Self.backend.get()
        let engine = try ModelFiles(path: try ReferenceFixture.hamburger.get()).engine(on: vulkan)
        for difference in try ReferenceCases.differences(c, engine: engine) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }
}

/// Every reference case together in one engine on the Vulkan device: each reproduces the
/// reference as it does alone.
@Suite(.enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct ReferenceBatchTests {
    @Test func everyCaseInOneBatch() throws {
        let vulkan = try VulkanTestDevice.backend()
        let cases = ReferenceFixture.cases
        let engine = try ModelFiles(path: try ReferenceFixture.hamburger.get()).engine(on: vulkan, sequences: cases.count, slots: 128)
        var index: [SequenceID: Int] = [:]
        for (i, c) in cases.enumerated() { index[try engine.submit(ReferenceCases.request(c))] = i }
        var traces = [[MicroStepTrace]](repeating: [], count: cases.count)
        var results = [GenerationResult?](repeating: nil, count: cases.count)
        while engine.hasWork {
            for event in try engine.step() {
                guard let i = index[event.sequence] else { continue }
                switch event {
                case .trace(_, let trace): traces[i].append(trace)
                case .finished(_, let result): results[i] = result
                case .failed(_, let error, _): Issue.record("case \(i): \(error)")
                default: break
                }
            }
        }
        for (i, c) in cases.enumerated() {
            guard let result = results[i] else { Issue.record("case \(i) did not finish"); continue }
            for difference in ReferenceCases.differences(c, result: result, traces: traces[i]) {
                Issue.record("case \(i) \(c.label): \(difference)")
            }
        }
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }
}
