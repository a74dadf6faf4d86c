import Foundation
import Testing

/// `hamrun` with `--backend vulkan`, `devices` and `check`: the same tokens as the CPU backend,
/// and one-line errors when Vulkan is missing or the device does not exist.
@Suite struct VulkanCommandTests {
    let base = HamrunProcess.fixtures.appendingPathComponent("tiny-hamburger-ref/base").path
    let prompt = "1019,418,308,11,535,327,292,308,11,332,328,268,597,401,396,25"

    /// Whether `hamrun devices` finds a device here (lavapipe counts).
    static let hasDevice: Bool = (try? HamrunProcess.run(["devices"]).status) == 0

    struct Report: Decodable {
        var tokens: [Int32]
        var steps: [[Int32]]
    }

    @Test(.enabled(if: hasDevice, "no Vulkan device on this machine (install mesa-vulkan-drivers for lavapipe)"))
    func vulkanGeneratesWhatTheCPUGenerates() throws {
        var reports: [Report] = []
        for backend in ["cpu", "vulkan"] {
            let result = try HamrunProcess.run(["generate", "--model", base, "--mode", "base", "--backend", backend,
                                                "--prompt-ids", prompt, "--max-tokens", "12", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            reports.append(try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)))
        }
        #expect(reports[0].tokens == reports[1].tokens)
        #expect(reports[0].steps == reports[1].steps)
    }

    @Test(.enabled(if: hasDevice, "no Vulkan device on this machine"))
    func summaryNamesTheVulkanDevice() throws {
        let result = try HamrunProcess.run(["generate", "--model", base, "--backend", "vulkan", "--prompt-ids", "1019,418", "--max-tokens", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("on vulkan: "), "\(result.stderr)")
    }

    @Test(.enabled(if: hasDevice, "no Vulkan device on this machine"))
    func checkPassesWithValidation() throws {
        let result = try HamrunProcess.run(["check", "--backend", "vulkan", "--quick", "--validation", "--failures-only"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(" 0 failed"), "\(result.stdout)")
        #expect(result.stdout.contains("validation: 0 messages"), "\(result.stdout)")
    }

    @Test(.enabled(if: hasDevice, "no Vulkan device on this machine"))
    func devicesListsLimits() throws {
        let result = try HamrunProcess.run(["devices"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("maxStorageBufferRange"))
        #expect(result.stdout.contains("subgroup size"))
        #expect(result.stdout.contains("default Vulkan device: "))
    }

    /// Without a loader, `auto` quietly runs on the CPU.
    @Test func autoWithoutVulkanUsesTheCPU() throws {
        let result = try HamrunProcess.run(["generate", "--model", base, "--prompt-ids", "1019,418", "--max-tokens", "2"],
                                           environment: ["HAMRUN_VULKAN_LOADER": "/nonexistent/libvulkan.so.1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("on cpu"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test(arguments: [
        (["generate", "--backend", "vulkan", "--prompt-ids", "1"], ["HAMRUN_VULKAN_LOADER": "/nonexistent/libvulkan.so.1"], "no Vulkan loader"),
        (["devices"], ["HAMRUN_VULKAN_LOADER": "/nonexistent/libvulkan.so.1"], "no Vulkan loader"),
        (["check", "--backend", "vulkan", "--quick"], ["HAMRUN_VULKAN_LOADER": "/nonexistent/libvulkan.so.1"], "no Vulkan loader"),
        (["generate", "--backend", "vulkan", "--device", "99", "--prompt-ids", "1"], [:], "--device 99"),
        (["generate", "--backend", "cpu", "--device", "0", "--prompt-ids", "1"], [:], "--device"),
        (["generate", "--backend", "vulkan", "--prompt-ids", "1"], ["VK_ICD_FILENAMES": "/nonexistent/icd.json", "VK_DRIVER_FILES": "/nonexistent/icd.json"], "no usable Vulkan driver in VK_ICD_FILENAMES=/nonexistent/icd.json"),
    ] as [([String], [String: String], String)])
    func vulkanErrorsAreOneLine(arguments: [String], environment: [String: String], mentions: String) throws {
        let full = arguments.first == "generate" ? arguments + ["--model", base] : arguments
        let result = try HamrunProcess.run(full, environment: environment)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("hamrun: error: "))
        #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)")
    }
}
