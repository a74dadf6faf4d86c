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

    /// One backend for all cases: a fresh graph per case, as a server would reuse its device.
    static let backend = Result { try VulkanTestDevice.backend() }

    @Test func fixtureHasHAMburgerCases() {
        #expect(Self.cases.count >= 6)
    }

    @Test(arguments: cases)
    func hamburgerCaseMatchesTheReference(index: Int) throws {
        let c = ReferenceFixture.cases[index]
        let vulkan = try Self.backend.get()
        let graph = try HAMburgerGraph(model: try ModelFiles(path: try ReferenceFixture.hamburger.get()), backend: vulkan, mode: .hamburger)
        for difference in try ReferenceCases.differences(c, generator: Generator(graph: graph)) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }
}
