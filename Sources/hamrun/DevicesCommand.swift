import ArgumentParser
import HamVulkan

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the Vulkan devices: type, memory heaps and the limits the kernels depend on.")

    @Flag(help: "Also measure submission, read-back and dispatch latency on the default device (or --device).")
    var latency = false

    @Option(help: "Show only this device (and measure it with --latency).")
    var device: Int?

    func run() throws {
        let devices = try VulkanDevices.list()
        guard !devices.isEmpty else { throw VulkanError.noDevice.blamingDriverList() }
        if let device {
            guard devices.indices.contains(device) else { throw VulkanError.deviceIndexOutOfRange(index: device, count: devices.count) }
            try StandardStreams.outLine(devices[device].report)
        } else {
            for device in devices { try StandardStreams.outLine(device.report) }
        }
        let preferred = VulkanDeviceInfo.preferred(devices)
        if let preferred, device == nil {
            let auto = preferred.type.isGPU ? "--backend auto uses it" : "--backend auto uses the CPU backend (no GPU)"
            try StandardStreams.outLine("default Vulkan device: \(preferred.index) (\(preferred.summary)); \(auto)")
        }
        if latency {
            let backend = try VulkanBackend(options: VulkanOptions(device: device))
            try StandardStreams.outLine("latency on \(backend.device.summary): \(try backend.measureLatency())")
        }
    }
}
