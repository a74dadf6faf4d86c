import Foundation
import HamChecks
import Testing
@testable import HamConvert
@testable import HamCore
import HamCPU
@testable import HamLoad

/// The authors' PyTorch modules are the ground truth: same tokens, same step boundaries,
/// logits within float32 tolerance (ReferenceCases.differences says exactly what is compared).
@Suite struct ReferenceFixtureTests {
    static let cases = Fixtures.cases

    @Test func fixtureIsPresent() {
        #expect(Self.cases.filter(\.isBase).count >= 6)
        #expect(Self.cases.filter { !$0.isBase }.count >= 18)
    }

    @Test(arguments: cases.indices.filter { !cases[$0].isBase })
    func hamburgerCase(index: Int) throws {
        let c = Self.cases[index]
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        for difference in try ReferenceCases.differences(c, engine: try model.engine(on: CPUBackend())) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }

    @Test(arguments: cases.indices.filter { cases[$0].isBase })
    func baseCase(index: Int) throws {
        let c = Self.cases[index]
        let model = try ModelFiles(path: Fixtures.tinyBase.path)
        for difference in try ReferenceCases.differences(c, engine: try model.engine(on: CPUBackend())) {
            Issue.record("case \(index) \(c.label): \(difference)")
        }
    }

    /// The comparison itself can fail: a wrong confidence changes the steps.
    @Test func aWrongGenerationIsReported() throws {
        var c = try #require(Self.cases.first { !$0.isBase })
        c.confidence = (c.confidence ?? 0.5) < 0.5 ? 0.95 : 0.05
        let model = try ModelFiles(path: try Fixtures.tinyHAMburgerDirectory())
        #expect(!(try ReferenceCases.differences(c, engine: try model.engine(on: CPUBackend()))).isEmpty)
    }
}
