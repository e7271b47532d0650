import Glibc

// Every call TraceLens makes into the operating system is in this file, so that a port is this
// file. TraceLens builds and is tested on Linux only (Glibc, inotify, /proc); the rest of the
// code speaks to the system through `Platform`. ArchitectureTests keeps `import Glibc` here alone.

public enum Platform {
    // MARK: Descriptors

    /// Opens a file to read, without following a FIFO's writer (non-blocking) and closed on exec.
    /// Returns -1 and sets `lastError` on failure.
    public static func openForReading(_ path: String) -> Int32 { Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }

    /// Opens (creating, mode 0600 unless given) a file to write; `truncate` empties it first.
    public static func openForWriting(_ path: String, truncate: Bool, append: Bool = false, mode: UInt32 = 0o600) -> Int32 {
        Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0) | (append ? O_APPEND : 0), mode_t(mode))
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Creates an empty file readable and writable by its owner only. Returns nil when it was
    /// created or already exists, else what went wrong.
    public static func createOwnerOnlyFile(_ path: String) -> String? {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 { return errno == EEXIST ? nil : errorText(errno) }
        // The umask may have taken bits away; never added any, but say exactly what is meant.
        fchmod(fd, 0o600)
        Glibc.close(fd)
        return nil
    }

    /// What taking an exclusive lock without waiting gave.
    public enum LockAttempt: Equatable { case taken, heldElsewhere, failed(String) }

    /// Tries to take an exclusive advisory lock (`flock`) on an open file, without waiting.
    public static func tryExclusiveLock(_ fd: Int32) -> LockAttempt {
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return .taken }
        return errno == EWOULDBLOCK || errno == EINTR ? .heldElsewhere : .failed(errorText(errno))
    }

    /// `read(2)`: bytes read, 0 at the end, -1 on error (`lastError`).
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) -> Int { Glibc.read(fd, buffer, count) }

    /// `pread(2)`: reads at an offset without moving the descriptor's position.
    public static func read(_ fd: Int32, at offset: Int64, into buffer: UnsafeMutableRawPointer, count: Int) -> Int {
        Glibc.pread(fd, buffer, count, off_t(offset))
    }

    /// `write(2)`: bytes written, -1 on error (`lastError`).
    public static func write(_ fd: Int32, _ bytes: UnsafeRawPointer?, count: Int) -> Int { Glibc.write(fd, bytes, count) }

    /// Writes all of `bytes`, retrying after signals; false when the descriptor refuses them.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { b in
            var offset = 0
            while offset < b.count {
                let n = Glibc.write(fd, b.baseAddress! + offset, b.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
    }

    /// `pwrite(2)`: writes at an offset without moving the descriptor's position.
    @discardableResult
    public static func write(_ fd: Int32, at offset: Int64, _ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { Glibc.pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
    }

    /// Cuts (or extends with zeros) an open file to `size` bytes.
    public static func truncate(_ fd: Int32, to size: Int64) { _ = ftruncate(fd, off_t(size)) }

    /// Puts what was written to `fd` on the disk (false: it may not be there).
    public static func sync(_ fd: Int32) -> Bool { fsync(fd) == 0 }

    /// Renames a file, replacing what `to` names (nil when done; else why not).
    public static func rename(_ from: String, to: String) -> String? {
        Glibc.rename(from, to) == 0 ? nil : String(cString: strerror(errno))
    }

    /// Moves a descriptor back to the start of its file.
    public static func rewind(_ fd: Int32) { _ = lseek(fd, 0, SEEK_SET) }

    /// Moves a descriptor to `offset`; false when it cannot seek (a pipe).
    public static func seek(_ fd: Int32, to offset: Int64) -> Bool { lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) }

    public static func setBlocking(_ fd: Int32, _ blocking: Bool) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK)
    }

    /// A pipe whose ends are non-blocking and closed on exec.
    public static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            setBlocking(fd, false)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    /// The error of the last failed call, and what it means.
    public static var lastError: Int32 { errno }
    public static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
    public static let interruptedError = EINTR
    public static let wouldBlockError = EAGAIN
    public static let noSuchFileError = ENOENT
    /// The name now leads to another file than the one expected.
    public static let staleError = ESTALE
    /// The process or the system has no descriptor free (`ulimit -n` reached).
    public static func isOutOfDescriptors(_ code: Int32) -> Bool { code == EMFILE || code == ENFILE }
    /// What an open says when this process has no descriptor free.
    public static let processOutOfDescriptorsError = EMFILE

    // MARK: Files

    public enum FileKind: Sendable, Equatable { case regular, directory, fifo, other }

    /// What `stat(2)` says of a file, in the units TraceLens uses.
    public struct FileStatus: Sendable, Equatable {
        public var kind: FileKind
        public var device: Int64
        public var inode: Int64
        public var size: Int64
        /// Hard links to it (0: deleted while held open).
        public var links: Int
        /// Modification time in nanoseconds since 1970.
        public var modifiedNanos: Int64
        public var modifiedMicros: Int64 { modifiedNanos / 1_000 }
        public var modifiedSeconds: Int64 { modifiedNanos / 1_000_000_000 }
    }

    private static func fileStatus(_ st: stat) -> FileStatus {
        let kind: FileKind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFIFO: kind = .fifo
        default: kind = .other
        }
        return FileStatus(kind: kind, device: Int64(st.st_dev), inode: Int64(st.st_ino), size: Int64(st.st_size), links: Int(st.st_nlink),
                          modifiedNanos: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }

    /// The file a path names (symbolic links followed); nil when there is none (`lastError`).
    public static func status(path: String) -> FileStatus? {
        var st = stat()
        return stat(path, &st) == 0 ? fileStatus(st) : nil
    }

    /// The file a descriptor holds open.
    public static func status(descriptor fd: Int32) -> FileStatus? {
        var st = stat()
        return fstat(fd, &st) == 0 ? fileStatus(st) : nil
    }

    // MARK: Waiting and time

    /// Waits until one of `descriptors` can be read or `timeout` seconds pass (negative: no
    /// limit). Returns which can be read; nil when interrupted by a signal.
    public static func waitReadable(_ descriptors: [Int32], timeout: Double) -> [Bool]? {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ms: Int32 = timeout < 0 ? -1 : Int32(min(timeout * 1000, Double(Int32.max)).rounded(.up))
        let n = poll(&fds, nfds_t(fds.count), ms)
        if n < 0 { return nil }
        return fds.map { $0.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 }
    }

    public enum WaitResult: Equatable { case ready, timedOut, interrupted, failed(String) }

    /// Waits until `fd` can be read (or has closed) or `timeout` seconds pass.
    public static func wait(readable fd: Int32, timeout: Double) -> WaitResult {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&pfd, 1, Int32(min(timeout * 1000, Double(Int32.max)).rounded(.up)))
        if n > 0 { return .ready }
        if n == 0 { return .timedOut }
        return errno == EINTR ? .interrupted : .failed(errorText(errno))
    }

    /// Seconds on a clock that only goes forward.
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Microseconds since 1970 on the wall clock.
    public static func wallClockMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }

    /// The wall clock now, in UTC.
    public static func wallClockUTC() -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
                Int(parts.tm_sec), Int(ts.tv_nsec / 1_000_000))
    }

    public static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        usleep(useconds_t(min(seconds, 3600) * 1_000_000))
    }

    // MARK: Signals

    /// The signals TraceLens handles, by their usual names.
    public enum Signal {
        public static let interrupt = SIGINT
        public static let terminate = SIGTERM
        public static let hangUp = SIGHUP
        public static let kill = SIGKILL
        /// Sent when the profiling timer (`armProfilingTimer`) runs out; its default action ends the process.
        public static let profilingTimer = SIGPROF
        /// A short name for logs: `INT`, `TERM`, `HUP`, or the number.
        public static func name(_ signal: Int32) -> String {
            switch signal {
            case SIGINT: "INT"
            case SIGTERM: "TERM"
            case SIGHUP: "HUP"
            case SIGKILL: "KILL"
            default: "\(signal)"
            }
        }
    }

    /// A write to a closed pipe returns an error instead of killing the process.
    public static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    // Read by a C signal handler, which can capture nothing and may take no lock: written before
    // the handlers are installed, an aligned Int32, so the handler sees a whole value.
    nonisolated(unsafe) private static var signalWriteEnd: Int32 = -1

    /// From now on each of `signals` writes its number as one byte to `fd` (restarting the
    /// interrupted call), so a poll loop sees signals between its cycles.
    public static func deliverSignals(_ signals: [Int32], asBytesTo fd: Int32) {
        signalWriteEnd = fd
        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var byte = UInt8(truncatingIfNeeded: sig)
                _ = Glibc.write(Platform.signalWriteEnd, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
    }

    /// Runs `handler` (which may only touch atomics and async-signal-safe calls) on each of `signals`.
    public static func onSignals(_ signals: [Int32], _ handler: @convention(c) (Int32) -> Void) {
        for sig in signals { signal(sig, handler) }
    }

    /// The default action for `signal` from now on (a second Ctrl-C stops at once).
    public static func restoreDefault(_ signal: Int32) { _ = Glibc.signal(signal, SIG_DFL) }

    /// Ignores `signal` from now on (a handler elsewhere, such as a dispatch source, takes it).
    public static func ignore(_ signal: Int32) { _ = Glibc.signal(signal, SIG_IGN) }

    /// Starts (or, with 0, stops) a timer of this process's CPU time that sends SIGPROF when it
    /// runs out: a busy machine does not turn a slow step into a timeout.
    public static func armProfilingTimer(seconds: Double) {
        var timer = itimerval()
        let micros = Int((seconds * 1_000_000).rounded(.up))
        timer.it_value.tv_sec = micros / 1_000_000
        timer.it_value.tv_usec = suseconds_t(micros % 1_000_000)
        setitimer(__itimer_which_t(ITIMER_PROF.rawValue), &timer, nil)
    }

    /// Sends `signal` to this process.
    public static func raise(_ signal: Int32) { _ = Glibc.raise(signal) }

    // MARK: Processes and terminals

    public static var processID: Int32 { getpid() }

    /// This machine's host name (what export rows carry unless the configuration names one).
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether a process with this id runs (or exists but is another user's).
    public static func processExists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// Sends `signal` to another process.
    public static func send(_ signal: Int32, to pid: Int32) -> Bool { kill(pid, signal) == 0 }

    /// Ends this process at once, without running exit handlers (a child after fork-less exec
    /// failure, the fuzzer's watchdog).
    public static func exitNow(_ status: Int32) -> Never { _exit(status) }

    /// What a child process started by `runChild` did.
    public struct ChildUsage: Sendable, Equatable {
        /// Its exit status, or 128 + the signal that ended it.
        public var status: Int32
        /// Wall-clock seconds from its start to its end.
        public var seconds: Double
        /// Its own peak resident memory in KiB (`ru_maxrss` of this child alone, from `wait4`).
        public var peakResidentKiB: Int
    }

    /// Starts `path` with `arguments` (after argv[0]) and `environment` (nil: this process's),
    /// standard input from /dev/null and standard output and error written to the files named
    /// (nil: /dev/null; both may name one file), then waits for it. Its peak memory is its own,
    /// not that of this process's other children. nil when it cannot be started (`lastError`).
    public static func runChild(_ path: String, _ arguments: [String], environment: [String: String]? = nil,
                                output: String? = nil, errors: String? = nil) -> ChildUsage? {
        let start = monotonicSeconds()
        guard let pid = startChild(path, arguments, environment: environment, output: output, errors: errors) else { return nil }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            if errno != EINTR { return nil }
        }
        let seconds = monotonicSeconds() - start
        return ChildUsage(status: exitStatus(status), seconds: seconds, peakResidentKiB: Int(usage.ru_maxrss))
    }

    /// Starts a child as `runChild` does, without waiting: its process id, or nil when it cannot
    /// be started (`lastError`). `waitForChild` reaps it. (Foundation's `Process` is no use beside
    /// a long-running `Process` whose child closes inherited descriptors: its monitor then waits
    /// on that one and never reports the others.) `append` adds to the output files.
    public static func startChild(_ path: String, _ arguments: [String], environment: [String: String]? = nil,
                                  output: String? = nil, errors: String? = nil, append: Bool = false) -> Int32? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let writing = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", writing, 0o600)
        if let errors, errors != output {
            posix_spawn_file_actions_addopen(&actions, 2, errors, writing, 0o600)
        } else if errors == nil {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let env = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for p in argv + (env ?? []) { free(p) } }
        var pid: pid_t = 0
        let spawned = env.map { posix_spawn(&pid, path, &actions, nil, argv, $0) } ?? posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { errno = spawned; return nil }
        return pid
    }

    /// Waits for a child started by `startChild` to end: its exit status, or 128 + the signal
    /// that ended it; nil when it is no child of this process.
    public static func waitForChild(_ pid: Int32) -> Int32? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return nil }
        }
        return exitStatus(status)
    }

    /// Whether a child started by `startChild` has ended, without waiting: its status (as
    /// `waitForChild` gives it) once it has, nil while it runs.
    public static func endedChild(_ pid: Int32) -> Int32? {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid ? exitStatus(status) : nil
    }

    private static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The width in columns of the terminal `fd` is, or nil when it is none (or says 0).
    public static func terminalColumns(_ fd: Int32) -> Int? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// The size of a memory page, for resident sizes read from /proc.
    public static var pageSize: Int { sysconf(Int32(_SC_PAGESIZE)) }

    /// The number of processors online.
    public static var processorCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    // MARK: Limits

    /// The soft and hard open-file limits (`ulimit -n`).
    public static func descriptorLimits() -> (soft: Int, hard: Int)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return (clampLimit(limit.rlim_cur), clampLimit(limit.rlim_max))
    }

    /// Sets the soft open-file limit to the hard one, or to 2^20 where the kernel refuses an
    /// unlimited one. False when neither is allowed.
    public static func raiseDescriptorLimitToHard() -> Bool {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return false }
        guard limit.rlim_cur < limit.rlim_max else { return true }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return true }
        raised.rlim_cur = rlim_t(1 << 20)
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0
    }

    private static func clampLimit(_ value: rlim_t) -> Int { value >= rlim_t(Int32.max) ? Int(Int32.max) : Int(value) }

    // MARK: Network

    /// What opening a TCP connection gave.
    public enum TCPConnectResult: Equatable {
        case connected(Int32)
        /// The name has no address (the resolver's text).
        case unresolved(String)
        /// Every address refused or failed; the text of the last failure.
        case failed(String)
        case timedOut
    }

    /// Opens a TCP connection to `host` (a name or an IPv4/IPv6 address) on `port`, trying each
    /// address the resolver gives, within `timeout` seconds in all. The descriptor is
    /// non-blocking and closed on exec: use `sendAll` and `receive`, then `close`.
    public static func connectTCP(host: String, port: Int, timeout: Double) -> TCPConnectResult {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            return .unresolved(resolved == EAI_SYSTEM ? errorText(errno) : String(cString: gai_strerror(resolved)))
        }
        defer { freeaddrinfo(list) }
        let deadline = monotonicSeconds() + timeout
        var lastFailure = "no address"
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            next = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            if fd < 0 { lastFailure = errorText(errno); continue }
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return .connected(fd) }
            guard errno == EINPROGRESS else { lastFailure = errorText(errno); Glibc.close(fd); continue }
            switch waitWritable(fd, until: deadline) {
            case .ready:
                var failure: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
                if failure == 0 { return .connected(fd) }
                lastFailure = errorText(failure)
                Glibc.close(fd)
            case .timedOut:
                Glibc.close(fd)
                return .timedOut
            case .failed(let text):
                lastFailure = text
                Glibc.close(fd)
            case .interrupted:
                lastFailure = errorText(EINTR)
                Glibc.close(fd)
            }
        }
        return .failed(lastFailure)
    }

    /// A loopback TCP port nothing listens on now, other than those in `taken`: bound to port 0
    /// (the kernel picks), read back, then released. nil when no socket can be bound.
    public static func freeLoopbackPort(avoiding taken: [Int] = []) -> Int? {
        for _ in 0..<20 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return nil }
            defer { Glibc.close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            let port = Int(UInt16(bigEndian: address.sin_port))
            if bound && port > 0 && !taken.contains(port) { return port }
        }
        return nil
    }

    /// Waits until `fd` can be written or the monotonic clock passes `deadline`, through signals.
    private static func waitWritable(_ fd: Int32, until deadline: Double) -> WaitResult {
        while true {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return .timedOut }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = poll(&pfd, 1, Int32(min(left * 1000, Double(Int32.max)).rounded(.up)))
            if n > 0 { return .ready }
            if n == 0 { return .timedOut }
            if errno != EINTR { return .failed(errorText(errno)) }
        }
    }

    /// What sending or receiving on a socket gave.
    public enum SocketResult: Equatable {
        /// Bytes moved (a receive of 0 is `.closed`).
        case done(Int)
        /// The peer closed its end (receive only).
        case closed
        case timedOut
        case failed(String)
    }

    /// Sends all of `bytes` on a non-blocking socket, waiting at most `timeout` seconds each time
    /// the peer takes nothing. A closed peer is an error, never SIGPIPE.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8], timeout: Double) -> SocketResult {
        bytes.withUnsafeBytes { b in
            var offset = 0
            while offset < b.count {
                let n = Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                guard n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) else { return .failed(errorText(n < 0 ? errno : EPIPE)) }
                switch waitWritable(fd, until: monotonicSeconds() + timeout) {
                case .ready: continue
                case .timedOut: return .timedOut
                case .interrupted: continue
                case .failed(let text): return .failed(text)
                }
            }
            return .done(offset)
        }
    }

    /// Receives up to `count` bytes from a non-blocking socket, waiting at most `timeout` seconds
    /// for the first.
    public static func receive(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, timeout: Double) -> SocketResult {
        let deadline = monotonicSeconds() + timeout
        while true {
            let n = Glibc.recv(fd, buffer, count, 0)
            if n > 0 { return .done(n) }
            if n == 0 { return .closed }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .failed(errorText(errno)) }
            let left = deadline - monotonicSeconds()
            if left <= 0 { return .timedOut }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(left * 1000, Double(Int32.max)).rounded(.up)))
            if ready == 0 { return .timedOut }
            if ready < 0 && errno != EINTR { return .failed(errorText(errno)) }
        }
    }

    // MARK: File change events

    /// The kernel's file change events (inotify): a descriptor that becomes readable when a
    /// watched file or folder changes. nil where the system has none (then callers poll).
    public final class FileEvents {
        public let descriptor: Int32

        public init?() {
            descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if descriptor < 0 { return nil }
        }

        deinit { Glibc.close(descriptor) }

        /// Watches a file or folder for writes, creation, deletion, moves and attribute changes.
        /// Returns the watch id, or nil when the path cannot be watched.
        public func watch(_ path: String) -> Int32? {
            let mask = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB | IN_CLOSE_WRITE)
            let wd = inotify_add_watch(descriptor, path, mask)
            return wd >= 0 ? wd : nil
        }

        public func forget(_ watch: Int32) { inotify_rm_watch(descriptor, watch) }

        /// Reads and drops the pending events (which file changed does not matter to callers).
        public func drain() {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while buffer.withUnsafeMutableBytes({ Glibc.read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        }
    }
}
