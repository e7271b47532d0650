import TraceLensRender

extension Ladder {
    /// The ladder as an SVG drawing for the HTML report: parties across, steps down, the failing
    /// step in red. Every text is escaped.
    package func svg() -> String {
        guard !parties.isEmpty else { return "" }
        let timeWidth = 100, column = 190, rowHeight = 26, top = 40
        let width = timeWidth + column * parties.count
        let height = top + rowHeight * (steps.count + 1)
        func x(_ i: Int) -> Int { timeWidth + i * column + column / 2 }
        var s = "<svg class=\"ladder\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"ladder\">"
        s += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"context-stroke\"/></marker></defs>"
        for (i, p) in parties.enumerated() {
            s += "<text x=\"\(x(i))\" y=\"20\" text-anchor=\"middle\" class=\"party\">\(HTML.escape(p))</text>"
            s += "<line x1=\"\(x(i))\" y1=\"28\" x2=\"\(x(i))\" y2=\"\(height - 6)\" class=\"lifeline\"/>"
        }
        for (n, step) in steps.enumerated() {
            let y = top + rowHeight * n + rowHeight / 2
            let cls = step.failing ? " failing" : ""
            s += "<g class=\"step\(cls)\"><title>\(HTML.escape(step.file)):\(step.line)</title>"
            s += "<text x=\"4\" y=\"\(y + 4)\" class=\"time\">\(HTML.escape(step.time))\(step.failing ? " ✗" : "")</text>"
            if let to = step.to, to != step.from {
                let x1 = x(step.from), x2 = x(to)
                s += "<line x1=\"\(x1)\" y1=\"\(y)\" x2=\"\(x2 + (x2 > x1 ? -2 : 2))\" y2=\"\(y)\" class=\"arrow\" marker-end=\"url(#arrow)\"/>"
                s += "<text x=\"\((x1 + x2) / 2)\" y=\"\(y - 4)\" text-anchor=\"middle\" class=\"label\">\(HTML.escape(step.label))</text>"
            } else {
                let px = x(step.from)
                let right = step.from < parties.count - 1 || parties.count == 1
                s += "<circle cx=\"\(px)\" cy=\"\(y)\" r=\"4\" class=\"dot\"/>"
                s += "<text x=\"\(right ? px + 8 : px - 8)\" y=\"\(y + 4)\" text-anchor=\"\(right ? "start" : "end")\" class=\"note\">\(HTML.escape(step.label))</text>"
            }
            s += "</g>"
        }
        return s + "</svg>"
    }
}
