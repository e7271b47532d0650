import Glibc

/// Messages for the user on standard error, unbuffered.
public enum Diagnostics {
    /// Messages quote file names and file text: control bytes in them are shown, not sent.
    public static func warn(_ message: String) {
        let bytes = Array(("tracelens: " + TerminalText.visible(message, keepingNewlines: true) + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
