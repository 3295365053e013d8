using System.Diagnostics;
using System.Reflection;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// One version, one place: Cargo.toml's [workspace.package] version is the assembly, file, informational
/// (and so package) version of PmpMail.Interop (dotnet/Directory.Build.props reads it) and the native
/// library's pmp_version(). Cargo.toml is read here with a parser of its own, not the MSBuild regex.
/// </summary>
public sealed class VersionTests
{
    private static readonly Assembly Interop = typeof(PmpMailClient).Assembly;

    [Fact]
    public void TheAssemblyVersionsAreCargoTomlsVersion()
    {
        string version = WorkspaceVersion();
        string numeric = version.Split('-', '+')[0] + ".0"; // 0.2.0 -> 0.2.0.0; a pre-release suffix is not numeric
        Assert.Equal(Version.Parse(numeric), Interop.GetName().Version);
        Assert.Equal(version, Interop.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);
        Assert.Equal(numeric, Interop.GetCustomAttribute<AssemblyFileVersionAttribute>()?.Version);
        Assert.Equal(numeric, FileVersionInfo.GetVersionInfo(Interop.Location).FileVersion);
    }

    [Fact]
    public void TheNativeLibraryIsTheSameVersion() =>
        Assert.Equal(WorkspaceVersion(), PmpMailClient.NativeVersion);

    /// <summary>The version line of [workspace.package] in the Cargo.toml above the test's output folder.</summary>
    private static string WorkspaceVersion()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Cargo.toml")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        Assert.NotNull(directory);
        bool inSection = false;
        foreach (string raw in File.ReadLines(Path.Combine(directory!, "Cargo.toml")))
        {
            string line = raw.Trim();
            if (line.StartsWith('['))
            {
                inSection = line == "[workspace.package]";
                continue;
            }

            if (inSection && line.StartsWith("version", StringComparison.Ordinal) && line.Split('=', 2) is [var key, var value] && key.Trim() == "version")
            {
                return value.Trim().Trim('"');
            }
        }

        throw new InvalidOperationException("Cargo.toml has no [workspace.package] version.");
    }
}
