using System.Security.Cryptography.X509Certificates;

namespace PmpMail;

// net8.0 (PowerShell 7.4+).
internal static partial class CertificateFile
{
    private const X509KeyStorageFlags EphemeralKeySet = X509KeyStorageFlags.EphemeralKeySet;
}
