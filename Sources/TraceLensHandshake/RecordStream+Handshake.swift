import TraceLensDecode
import TraceLensPlugins

extension RecordStream {
    /// The stream every reader uses: records decoded, and the TLS messages of their dumps read.
    public static func decoding(_ plugins: PluginSet) -> RecordStream {
        let stream = RecordStream(plugins: plugins)
        stream.annotator = HandshakeDecoder(plugins: plugins)
        return stream
    }
}
