using System.IO;
using System.Runtime.Versioning;

namespace PmpMail;

// net8.0 (PowerShell 7.4+): Unix file modes and an overwriting move are in the base library.
internal static partial class ProfileStore
{
    [UnsupportedOSPlatform("windows")]
    private static void RestrictToOwner(string path) =>
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

    private static void MoveOverwrite(string source, string destination) =>
        File.Move(source, destination, overwrite: true);
}
