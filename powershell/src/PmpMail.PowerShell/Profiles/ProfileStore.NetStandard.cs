using System.IO;

namespace PmpMail;

// netstandard2.0 (Windows PowerShell 5.1): Windows only, where the profile folder under %APPDATA% is
// already the user's own. There is no Unix file-mode API here, so off Windows it refuses rather than
// writing a file other users could read.
internal static partial class ProfileStore
{
    private static void RestrictToOwner(string path)
    {
        File.Delete(path);
        throw new PmpMailSetupException(
            "ProfileStoreUnsupported",
            "The Windows PowerShell build of PmpMail cannot restrict a profile file to its owner on this platform.",
            "Use PowerShell 7.4 or later to save profiles here.");
    }

    private static void MoveOverwrite(string source, string destination)
    {
        if (File.Exists(destination))
        {
            // ReplaceFile: the old profile is swapped for the new one in one step.
            File.Replace(source, destination, destinationBackupFileName: null);
        }
        else
        {
            File.Move(source, destination);
        }
    }
}
