import Foundation

/// The `bench` command: format throughput against `grep -c ERROR` on the same generated file.
public enum Benchmark {
    public static func runFormat(sizeMB: Int, path: String?, plugins: PluginSet) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let small = dir + "/small.trc"
        let full = path ?? dir + "/gskssl.33554467.trc"
        var lines: [String] = []

        let genStart = Date()
        try SyntheticTrace().write(to: small, targetBytes: max(sizeMB / 10, 1) << 20)
        let connections = try SyntheticTrace().write(to: full, targetBytes: sizeMB << 20)
        let bytes = (try FileManager.default.attributesOfItem(atPath: full)[.size] as? Int) ?? 0
        lines.append(String(format: "generated %@: %.1f MB, %d connections, 8 threads (%.1f s)", full, Double(bytes) / 1e6, connections.count, Date().timeIntervalSince(genStart)))

        let smallSeconds = try formatSeconds(small, plugins)
        let rssSmall = peakRSSMB()
        let fullSeconds = min(try formatSeconds(full, plugins), try formatSeconds(full, plugins))
        let rssFull = peakRSSMB()
        let grepSeconds = timeGrep(full)
        let mb = Double(bytes) / 1e6
        lines.append(String(format: "format  → /dev/null: %.2f s  %.0f MB/s (best of two)", fullSeconds, mb / fullSeconds))
        if let g = grepSeconds {
            lines.append(String(format: "grep -c ERROR      : %.2f s  %.0f MB/s (best of three; format takes %.1fx grep's time, target ≤ 3x)", g, mb / g, fullSeconds / g))
        } else {
            lines.append("grep -c ERROR      : grep not found")
        }
        lines.append(String(format: "peak RSS: %.0f MB after a %.1f MB file (%.2f s), %.0f MB after the %.1f MB file", rssSmall, mb / 10, smallSeconds, rssFull, mb))
        if path == nil { lines.append("(generated files removed; keep one with --file PATH)") }
        return lines.joined(separator: "\n")
    }

    static func formatSeconds(_ path: String, _ plugins: PluginSet) throws -> Double {
        let fd = open("/dev/null", O_WRONLY)
        defer { close(fd) }
        let output = Output(fd: fd)
        let start = Date()
        let status = FormatRun(plugins: plugins, options: FormatOptions(), output: output).run([path])
        if status != 0 { throw InputError.readFailed(path: path, reason: "format failed") }
        return Date().timeIntervalSince(start)
    }

    /// Times `grep -c ERROR` (best of three). Its output goes to a pipe, not /dev/null: GNU grep
    /// notices /dev/null and stops at the first match, which would make it look ten times faster.
    static func timeGrep(_ path: String) -> Double? {
        guard let grep = ["/usr/bin/grep", "/bin/grep"].first(where: FileManager.default.isExecutableFile(atPath:)) else { return nil }
        var best: Double?
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: grep)
            p.arguments = ["-c", "ERROR", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            let start = Date()
            do { try p.run() } catch { return nil }
            _ = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let t = Date().timeIntervalSince(start)
            best = min(best ?? t, t)
        }
        return best
    }

    public static func peakRSSMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
