using System.Security.Cryptography.X509Certificates;

namespace PmpMail;

// netstandard2.0 (Windows PowerShell 5.1): the flag exists on .NET Framework 4.7.2 and later (the
// manifest's DotNetFrameworkVersion) but is not in the netstandard2.0 surface.
internal static partial class CertificateFile
{
    private const X509KeyStorageFlags EphemeralKeySet = (X509KeyStorageFlags)0x20;
}
