import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
import CHamKernels
import Testing

/// Every op of the CPU backend against the plain reference backend, on fresh random inputs each
/// run, at every SIMD level this processor has.
@Suite(.serialized) struct CPUOpTests {
    @Test(arguments: ["avx512", "avx2", "generic"])
    func everyOpMatchesTheReference(level: String) throws {
        let active = String(cString: ham_set_kernel_level(level))
        defer { ham_set_kernel_level(nil) }
        guard active == level else { return }  // this processor lacks the level
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        for threads in [1, 2] {
            let checks = OpConformance(subject: CPUBackend(threads: threads), reference: ReferenceBackend(), seed: seed)
            let results = try checks.run()
            #expect(results.count > 100)
            for failure in results where !failure.passed {
                Issue.record("\(level), \(threads) threads, seed \(seed): \(failure)")
            }
        }
    }
}
