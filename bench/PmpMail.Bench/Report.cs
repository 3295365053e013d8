using System.Globalization;
using System.Text.Json.Serialization;

namespace PmpMail.Bench;

/// <summary>One number (already formatted) for one table row.</summary>
internal sealed record Metric(string Key, string Label, string Value);

/// <summary>What one side's child process reports to the parent (one JSON line on stdout).</summary>
internal sealed class SideReport
{
    public string Side { get; set; } = string.Empty;

    public List<Metric> Metrics { get; set; } = [];

    public List<string> Warnings { get; set; } = [];

    public List<string> Notes { get; set; } = [];

    public void Add(string key, string label, string value) => Metrics.Add(new Metric(key, label, value));

    public void Warn(string message)
    {
        Warnings.Add(message);
        Console.Error.WriteLine($"[{Side}] WARNING: {message}");
    }
}

[JsonSerializable(typeof(SideReport))]
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ReportJson : JsonSerializerContext
{
}

/// <summary>Formatting and statistics helpers.</summary>
internal static class Fmt
{
    public static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Ms(double ms) => ms >= 100 ? ms.ToString("F0", Inv) + " ms" : ms.ToString("F1", Inv) + " ms";

    public static string Rate(double perSecond) => perSecond.ToString("F1", Inv) + " mails/s";

    public static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("F1", Inv) + " MiB";

    /// <summary>MiB, or KiB below 1 MiB (so a small allocation does not print as 0.0 MiB).</summary>
    public static string Size(long bytes) => bytes >= 1024 * 1024 ? MiB(bytes) : (bytes / 1024.0).ToString("F1", Inv) + " KiB";

    public static double ElapsedMs(long startTimestamp) =>
        (System.Diagnostics.Stopwatch.GetTimestamp() - startTimestamp) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;

    /// <summary>Median of an ascending array (mean of the middle two for an even count).</summary>
    public static double Median(double[] sorted) =>
        sorted.Length == 0 ? double.NaN
        : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
        : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;

    /// <summary>Nearest-rank percentile of an ascending array.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
