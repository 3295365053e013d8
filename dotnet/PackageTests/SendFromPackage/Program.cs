// The program of tools/Test-InteropPackage.ps1's install tests: copied into a fresh `dotnet new console` app
// (net10.0, and a net48 app run under Mono) that references nothing but the PmpMail.Interop package from a
// local feed. It tests the Mail.Send permission and sends one mail through the emulator's demo tenant, the way
// a user's program would, with no PMP_MAIL_NATIVE_PATH: the package alone must bring the native library.
// C# that builds for net48 and net10.0 alike (explicit usings, a Main method).
//
//   SendFromPackage <emulator base URL> <emulator CA file (PEM)> <subject>
//   SendFromPackage --version      prints the versions only (loads the native library)
//
// Exit codes: 0 sent, 1 a PmpMailException, 2 not authenticated or Mail.Send not granted, 3 the native library
// was not found (DllNotFoundException, its message listing the paths tried), 64 bad arguments.
using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using PmpMail.Interop;

internal static class Program
{
    private static int Main(string[] args)
    {
        Assembly interop = typeof(PmpMailClient).Assembly;
        Console.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.ProcessArchitecture})");
        Console.WriteLine($"PmpMail.Interop {interop.GetName().Version} (informational {interop.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion}) from {interop.Location}");
        try
        {
            Console.WriteLine($"native library: {PmpMailClient.NativeVersion}");
            ShowLoadedNativeLibrary();
            if (args.Length == 1 && args[0] == "--version")
            {
                return 0;
            }

            if (args.Length != 3)
            {
                Console.Error.WriteLine("usage: SendFromPackage <emulator base URL> <emulator CA file> <subject> | --version");
                return 64;
            }

            return Send(new Uri(args[0]), File.ReadAllText(args[1]), args[2]);
        }
        catch (DllNotFoundException ex)
        {
            Console.Error.WriteLine($"DllNotFoundException: {ex.Message}");
            return 3;
        }
    }

    private static int Send(Uri emulator, string caPem, string subject)
    {
        var config = new PmpMailConfig("contoso.onmicrosoft.com", "22222222-2222-2222-2222-222222222222")
        {
            AuthorityHost = emulator,
            GraphRoot = emulator,
            Credential = PmpMailCredential.FromClientSecret("demo-secret-value"),
            // The emulator's own CA, trusted in addition to the system's; validation stays on.
            Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = caPem },
        };
        try
        {
            using PmpMailClient client = PmpMailClient.Create(config);
            PmpPermissionReport report = client.TestPermissions();
            Console.WriteLine($"permission test: authenticated {report.Authenticated}, app '{report.AppDisplayName}' ({report.AppId}), tenant {report.TenantId}");
            foreach (PmpPermissionEntry permission in report.Permissions)
            {
                Console.WriteLine($"  {permission.Name} {permission.Status}");
            }

            if (!report.Authenticated || !report.Permissions.Any(p => p.Name == "Mail.Send" && p.Status == "Granted"))
            {
                Console.Error.WriteLine($"Mail.Send is not granted: {report.Error?.Message}");
                return 2;
            }

            var message = new PmpMailMessage
            {
                From = "alerts@contoso.onmicrosoft.com",
                Subject = subject,
                Body = $"Sent by a {RuntimeInformation.FrameworkDescription} app through the PmpMail.Interop package.",
            };
            message.To.Add("Ops <ops@contoso.com>");
            PmpSendResult result = client.SendMail(message);
            Console.WriteLine($"sent: {result.Status}, {result.Attempts} attempt(s), request id {result.RequestId}");
            return 0;
        }
        catch (PmpMailException ex)
        {
            Console.Error.WriteLine($"{ex.GetType().Name} ({ex.Detail.StatusName}): {ex.Message}");
            return 1;
        }
    }

    // Linux: which file the process mapped, so the test can check it came from the app's own folder.
    private static void ShowLoadedNativeLibrary()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return;
        }

        foreach (string path in File.ReadAllLines(maps).Select(l => l.Split(new[] { ' ' }, 6, StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length == 6 && f[5].EndsWith("libpmp_mail.so", StringComparison.Ordinal)).Select(f => f[5].Trim()).Distinct())
        {
            Console.WriteLine($"native library file: {path}");
        }
    }
}
