using System.Globalization;
using System.Text;

namespace Quantixkvm.Bench.Reporting;

/// <summary>Latency samples of one series: their percentiles, and a CDF plot as an SVG image beside the report.</summary>
public sealed class Latencies(string name, IEnumerable<double> milliseconds)
{
    private readonly double[] _sorted = milliseconds.Order().ToArray();

    public string Name { get; } = name;

    public int Count => _sorted.Length;

    /// <summary>Nearest-rank percentile (p in 0..100), in ms; NaN without samples.</summary>
    public double Percentile(double p) =>
        _sorted.Length == 0 ? double.NaN : _sorted[Math.Clamp((int)Math.Ceiling(p / 100 * _sorted.Length) - 1, 0, _sorted.Length - 1)];

    public LatencySummary Summary() => new(Name, Count, Percentile(50), Percentile(95), Percentile(99), Count == 0 ? double.NaN : _sorted[^1]);

    /// <summary>Writes the empirical CDFs of <paramref name="series"/> (log-scaled ms axis) as one SVG: no plotting library needed.</summary>
    public static async Task WriteCdfSvgAsync(string path, string title, IReadOnlyList<Latencies> series)
    {
        const int width = 760, height = 420, left = 60, right = 20, top = 40, bottom = 50;
        var all = series.SelectMany(s => s._sorted).Where(v => v > 0).ToArray();
        var min = all.Length == 0 ? 0.1 : Math.Pow(10, Math.Floor(Math.Log10(all.Min())));
        var max = all.Length == 0 ? 1000 : Math.Pow(10, Math.Ceiling(Math.Log10(all.Max())));
        if (max <= min)
        {
            max = min * 10;
        }

        double X(double ms) => left + (Math.Log10(Math.Max(ms, min)) - Math.Log10(min)) / (Math.Log10(max) - Math.Log10(min)) * (width - left - right);
        double Y(double fraction) => top + (1 - fraction) * (height - top - bottom);
        string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{System.Security.SecurityElement.Escape(title)}</text>");
        for (var decade = min; decade <= max * 1.0001; decade *= 10)
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{F(X(decade))}\" y1=\"{top}\" x2=\"{F(X(decade))}\" y2=\"{height - bottom}\" stroke=\"#ddd\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{F(X(decade))}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{decade.ToString("G4", CultureInfo.InvariantCulture)}</text>");
        }

        foreach (var fraction in new[] { 0, 0.5, 0.95, 0.99, 1 })
        {
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{F(Y(fraction))}\" x2=\"{width - right}\" y2=\"{F(Y(fraction))}\" stroke=\"#ddd\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(Y(fraction) + 4)}\" text-anchor=\"end\">{fraction.ToString("0.##", CultureInfo.InvariantCulture)}</text>");
        }

        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">latency (ms, log scale)</text>");
        string[] colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
        for (var i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var colour = colours[i % colours.Length];
            // At most ~500 points per curve: enough for the shape, small enough to open anywhere.
            var step = Math.Max(1, s._sorted.Length / 500);
            var points = new StringBuilder();
            for (var k = 0; k < s._sorted.Length; k += step)
            {
                points.Append(CultureInfo.InvariantCulture, $"{F(X(s._sorted[k]))},{F(Y((k + 1.0) / s._sorted.Length))} ");
            }

            if (s._sorted.Length > 0)
            {
                points.Append(CultureInfo.InvariantCulture, $"{F(X(s._sorted[^1]))},{F(Y(1))}");
            }

            svg.AppendLine(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{points}\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + 10}\" y=\"{top + 16 + 16 * i}\" fill=\"{colour}\">{System.Security.SecurityElement.Escape(s.Name)} (n={s.Count}, p99 {s.Percentile(99).ToString("0.##", CultureInfo.InvariantCulture)} ms)</text>");
        }

        svg.AppendLine("</svg>");
        await File.WriteAllTextAsync(path, svg.ToString());
    }
}

public sealed record LatencySummary(string Series, int Count, double P50Ms, double P95Ms, double P99Ms, double MaxMs)
{
    public static string MarkdownHeader =>
        "| series | samples | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |\n|---|---:|---:|---:|---:|---:|";

    public string ToMarkdownRow() => string.Create(CultureInfo.InvariantCulture,
        $"| {Series} | {Count} | {P50Ms:0.##} | {P95Ms:0.##} | {P99Ms:0.##} | {MaxMs:0.##} |");
}
