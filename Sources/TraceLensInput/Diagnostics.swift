/// Messages for the user on standard error, unbuffered.
public enum Diagnostics {
    /// Messages quote file names and file text: control bytes in them are shown, not sent.
    public static func warn(_ message: String) {
        let bytes = Array(("tracelens: " + TerminalText.visible(message, keepingNewlines: true) + "\n").utf8)
        Platform.writeAll(2, bytes)
    }
}
