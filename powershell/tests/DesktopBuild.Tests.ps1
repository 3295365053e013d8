# The Desktop build (Windows PowerShell 5.1: netstandard2.0 cmdlets over PmpMail.Interop's netstandard2.0 build,
# in the module's Desktop/ folder) against the emulator, in a child process. On Windows that child is
# powershell.exe importing the module by its manifest. Elsewhere there is no Windows PowerShell, so a pwsh child
# imports Desktop/PmpMail.PowerShell.dll directly: the netstandard2.0 code paths (DllImport, the signer delegate,
# System.Text.Json from the package, the polyfilled file and certificate code) run on .NET; the native library is
# put on the loader path there, since finding it from Desktop/ is Windows code (ModuleInitializer.NetStandard.cs).
Describe 'PmpMail Desktop build' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Cert = New-TestCertificate -Subject 'CN=pmp-mail desktop test'
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory -CertificatePem $Cert.ExportCertificatePem())
        $script:DesktopDir = Join-Path $ModulePath 'Desktop'
        $script:WindowsPowerShell = if ($IsWindows) { Get-Command powershell.exe -CommandType Application -ErrorAction Ignore | Select-Object -First 1 }
    }
    AfterAll {
        Stop-TestEmulator $script:Emulator
    }

    It 'ships the netstandard2.0 cmdlets, PmpMail.Interop and their dependencies, and no authentication library' {
        $files = @(Get-ChildItem -LiteralPath $DesktopDir -File).Name
        $files | Should -Contain 'PmpMail.PowerShell.dll'
        $files | Should -Contain 'PmpMail.Interop.dll'
        $files | Should -Contain 'System.Text.Json.dll'
        $files | Where-Object { $_ -match '^(Microsoft\.Identity|Azure\.|Microsoft\.Graph|Microsoft\.IdentityModel|System\.IdentityModel|MSAL)' } | Should -BeNullOrEmpty
        $files | Where-Object { $_ -like 'System.Management.Automation*' } | Should -BeNullOrEmpty -Because 'the host provides PowerShell itself'
        foreach ($name in 'PmpMail.PowerShell.dll', 'PmpMail.Interop.dll') {
            $assembly = [System.Reflection.Assembly]::LoadFile((Join-Path $DesktopDir $name))
            $framework = $assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false).FrameworkName
            $framework | Should -Be '.NETStandard,Version=v2.0' -Because "$name is what Windows PowerShell 5.1 loads"
        }
    }

    It 'tests the permission (secret and certificate) and sends a mail through the Desktop build' {
        Invoke-Emulator 'reset' -Method POST | Out-Null
        $work = Join-Path $Emulator.StateDir 'desktop'
        New-Item -ItemType Directory -Path $work | Out-Null
        $pfxPath = Join-Path $work 'app.pfx'
        [IO.File]::WriteAllBytes($pfxPath, $Cert.Export([Security.Cryptography.X509Certificates.X509ContentType]::Pfx, 'pfx-pässword'))
        $attachment = Join-Path $work 'Bericht-Übersicht.csv'
        [IO.File]::WriteAllText($attachment, "Product,Status`nContoso Agent,Published`n", [Text.UTF8Encoding]::new($false))
        $argumentsPath = Join-Path $work 'arguments.json'
        @{
            AuthorityHost = $Emulator.BaseUrl; GraphRoot = $Emulator.BaseUrl; CaPath = $Emulator.CaPath
            TenantId = $TenantId; ClientId = $AppFull; Secret = $GoodSecret; PfxPath = $pfxPath; PfxPassword = 'pfx-pässword'
            Mailbox = $Mailbox; Subject = 'From the Desktop build ✓'; AttachmentPath = $attachment
        } | ConvertTo-Json | Set-Content -LiteralPath $argumentsPath -Encoding utf8NoBOM
        $checks = Join-Path $PSScriptRoot 'desktop' 'Invoke-DesktopBuildChecks.ps1'

        if ($WindowsPowerShell) {
            $output = & $WindowsPowerShell.Source -NoProfile -NonInteractive -ExecutionPolicy Bypass -File $checks -ImportPath (Join-Path $ModulePath 'PmpMail.psd1') -ArgumentsPath $argumentsPath
        }
        else {
            $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
            $loaderVariable = $IsWindows ? 'PATH' : $IsMacOS ? 'DYLD_LIBRARY_PATH' : 'LD_LIBRARY_PATH'
            $nativeDir = (Get-ChildItem -LiteralPath (Join-Path $ModulePath 'runtimes') -Directory | Select-Object -First 1 | ForEach-Object { Join-Path $_.FullName 'native' })
            $saved = [Environment]::GetEnvironmentVariable($loaderVariable)
            [Environment]::SetEnvironmentVariable($loaderVariable, $nativeDir + [IO.Path]::PathSeparator + $saved)
            try {
                $output = & $pwsh -NoProfile -NonInteractive -File $checks -ImportPath (Join-Path $DesktopDir 'PmpMail.PowerShell.dll') -ArgumentsPath $argumentsPath
            }
            finally {
                [Environment]::SetEnvironmentVariable($loaderVariable, ($null -eq $saved ? [NullString]::Value : $saved))
            }
        }
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        # @(): with no warning before it, the JSON line is the only output (a string, whose [-1] is a character).
        $seen = @($output)[-1] | ConvertFrom-Json

        $seen.CmdletsPath | Should -Be (Join-Path $DesktopDir 'PmpMail.PowerShell.dll')
        $seen.InteropPath | Should -Be (Join-Path $DesktopDir 'PmpMail.Interop.dll')
        $seen.CmdletsFramework | Should -Be '.NETStandard,Version=v2.0'
        $seen.InteropFramework | Should -Be '.NETStandard,Version=v2.0'
        $seen.NativeVersion | Should -Match '^\d+\.\d+\.\d+'
        ($seen.Permissions | Where-Object Permission -EQ 'Mail.Send').Status | Should -Be 'Granted'
        ($seen.Permissions | Where-Object Permission -EQ 'Mail.Send').AppDisplayName | Should -Be 'Patch notifications — Überwachung'
        $seen.CertificateQuiet | Should -BeTrue
        $seen.SendStatus | Should -Be 'sent'
        $seen.WrongSecretError | Should -BeLike 'PmpMail.AuthenticationFailed.AADSTS*'
        $seen.Assemblies | Where-Object { $_ -match '^(Microsoft\.Identity|Azure\.|Microsoft\.Graph|MSAL)' } | Should -BeNullOrEmpty

        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 1
        $messages[0].subject | Should -Be 'From the Desktop build ✓'
        $messages[0].clientRequestId | Should -Be $seen.ClientRequestId
        $messages[0].bodyContentType | Should -Be 'html'
        ($messages[0].to | ForEach-Object name) | Should -Be 'Zoë Müller'
        ($messages[0].attachments | ForEach-Object name) | Should -Be 'Bericht-Übersicht.csv'
    }
}
