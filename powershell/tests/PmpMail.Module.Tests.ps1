# The built module: manifest, exports, no conflicting auth assemblies at import, help.
Describe 'PmpMail module' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Module = Get-Module PmpMail
    }

    It 'exports exactly the documented cmdlets' {
        $expected = 'Connect-PmpMail', 'Disconnect-PmpMail', 'Get-PmpMailProfile', 'New-PmpMailConnection',
        'Register-PmpMailProfile', 'Send-PmpMail', 'Test-PmpMailPermission', 'Unregister-PmpMailProfile'
        ($Module.ExportedCmdlets.Keys | Sort-Object) | Should -Be ($expected | Sort-Object)
        $Module.ExportedFunctions.Count | Should -Be 0
        $Module.ExportedAliases.Count | Should -Be 0
    }

    It 'ships the native library under runtimes/<rid>/native' {
        $native = Get-ChildItem -LiteralPath (Join-Path $ModulePath 'runtimes') -Recurse -File
        $native.Name | Should -Contain ($IsWindows ? 'pmp_mail.dll' : $IsMacOS ? 'libpmp_mail.dylib' : 'libpmp_mail.so')
        [PmpMail.Interop.PmpMailClient]::NativeVersion | Should -Match '^\d+\.\d+\.\d+'
    }

    It 'loads no MSAL, Azure, Graph SDK or other auth assemblies when imported in a fresh process' {
        $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
        $script = "Import-Module '$ModulePath/PmpMail.psd1'; [AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -join ','"
        $names = (& $pwsh -NoProfile -NonInteractive -Command $script) -split ','
        $names | Should -Contain 'PmpMail.PowerShell'
        $names | Where-Object { $_ -match '^(Microsoft\.Identity|Azure\.|Microsoft\.Graph|Microsoft\.IdentityModel|MSAL)' } | Should -BeNullOrEmpty
    }

    It 'names every path it searched when the native library cannot be loaded' {
        $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
        $script = @"
`$env:PMP_MAIL_NATIVE_PATH = '/nonexistent/pmp/libpmp_mail.so'
Import-Module '$ModulePath/PmpMail.psd1'
try { New-PmpMailConnection -TenantId 't' -ClientId 'c' -ClientSecret (ConvertTo-SecureString 'x' -AsPlainText -Force) }
catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }
"@
        $out = & $pwsh -NoProfile -NonInteractive -Command $script
        $out[0] | Should -Be 'PmpMail.NativeLibraryNotFound,PmpMail.Commands.NewPmpMailConnectionCommand'
        $out[1] | Should -Match ([regex]::Escape('/nonexistent/pmp/libpmp_mail.so (not found)'))
        $out[1] | Should -Match 'PMP_MAIL_NATIVE_PATH'
    }

    It 'has an explicit manifest for both editions, loaded without Add-Type' {
        $manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'PmpMail.psd1')
        $manifest.RootModule | Should -Be 'PmpMail.psm1'
        $manifest.CmdletsToExport | Should -Not -Contain '*'
        $manifest.PowerShellVersion | Should -Be '5.1'
        $manifest.CompatiblePSEditions | Sort-Object | Should -Be @('Core', 'Desktop')
        $manifest.FormatsToProcess | Should -Contain 'PmpMail.Format.ps1xml'
        $manifest.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Desktop'
        $manifest.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Core'
        $null = Test-ModuleManifest -Path (Join-Path $ModulePath 'PmpMail.psd1') -ErrorAction Stop
        $root = Get-Content -LiteralPath (Join-Path $ModulePath 'PmpMail.psm1') -Raw
        $root | Should -Not -Match 'Add-Type'
        $Module.NestedModules.Path | Should -Be (Join-Path $ModulePath 'PmpMail.PowerShell.dll') -Because 'PowerShell 7.4+ loads the net8.0 build beside the manifest'
    }

    It 'has the version of Cargo.toml ([workspace.package], Get-PmpVersion) and the repository it declares' {
        $manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'PmpMail.psd1')
        $manifest.ModuleVersion | Should -Be (Get-PmpVersion)
        $Module.Version | Should -Be ([version](Get-PmpVersion))
        $cargo = Get-Content -LiteralPath (Join-Path $RepoRoot 'Cargo.toml') -Raw
        $repository = [regex]::Match($cargo, '(?m)^repository\s*=\s*"([^"]+)"').Groups[1].Value.TrimEnd('/')
        $manifest.PrivateData.PSData.ProjectUri | Should -Be $repository
        $manifest.PrivateData.PSData.LicenseUri | Should -BeLike "$repository/*LICENSE"
        $manifest.PrivateData.PSData.ReleaseNotes | Should -BeLike '*CHANGELOG.md*'
    }

    It 'removes its cmdlets when removed, and imports again' {
        $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
        $script = "Import-Module '$ModulePath/PmpMail.psd1'; Remove-Module PmpMail; [bool](Get-Command Send-PmpMail -ErrorAction Ignore); (Get-Module).Name -join ','; Import-Module '$ModulePath/PmpMail.psd1'; (Get-Command Send-PmpMail).Module.Name"
        $out = & $pwsh -NoProfile -NonInteractive -Command $script
        $out[0] | Should -Be 'False'
        $out[1] | Should -Not -Match 'PmpMail'
        $out[2] | Should -Be 'PmpMail'
    }

    It 'Send-PmpMail keeps Send-MailMessage parameter names and positions' {
        $cmd = Get-Command Send-PmpMail
        foreach ($name in 'To', 'Subject', 'Body', 'From', 'Cc', 'Bcc', 'ReplyTo', 'Attachments', 'BodyAsHtml', 'Priority', 'Encoding') {
            $cmd.Parameters.Keys | Should -Contain $name
        }
        $pos = { param($n) ($cmd.Parameters[$n].ParameterSets.Values | Select-Object -First 1).Position }
        & $pos 'To' | Should -Be 0
        & $pos 'Subject' | Should -Be 1
        & $pos 'Body' | Should -Be 2
        $cmd.Parameters['Attachments'].Aliases | Should -Contain 'PsPath'
        $cmd.Parameters['BodyAsHtml'].Aliases | Should -Contain 'BAH'
        ($cmd.Parameters['To'].ParameterSets.Values | Select-Object -First 1).ValueFromPipelineByPropertyName | Should -BeTrue
    }

    Context 'help' {
        It 'has a real synopsis, parameter help and examples for <Name>' -TestCases @(
            @{ Name = 'Send-PmpMail' }, @{ Name = 'Test-PmpMailPermission' }, @{ Name = 'Connect-PmpMail' },
            @{ Name = 'Disconnect-PmpMail' }, @{ Name = 'New-PmpMailConnection' }, @{ Name = 'Register-PmpMailProfile' },
            @{ Name = 'Get-PmpMailProfile' }, @{ Name = 'Unregister-PmpMailProfile' }
        ) {
            $help = Get-Help $Name -Full
            $help.Synopsis | Should -Not -BeNullOrEmpty
            $help.Synopsis | Should -Not -Match "^\s*$Name\s"   # not the auto-generated syntax stub
            @($help.examples.example).Count | Should -BeGreaterThan 0
            foreach ($p in $help.parameters.parameter) {
                ($p.description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "parameter -$($p.name) needs help"
            }
        }

        It 'Get-Help Test-PmpMailPermission -Examples shows an emulator example and a real-tenant example' {
            $text = Get-Help Test-PmpMailPermission -Examples | Out-String
            $text | Should -Match 'Test-PmpMailPermission'
            $text | Should -Match 'emulator'
        }

        It 'says that -Encoding is ignored because everything is UTF-8' {
            $p = (Get-Help Send-PmpMail -Parameter Encoding).description | Out-String
            $p | Should -Match 'UTF-8'
        }
    }
}
