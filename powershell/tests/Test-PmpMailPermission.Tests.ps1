# Test-PmpMailPermission against the emulator: every credential form, Granted/Missing, AADSTS failures.
Describe 'Test-PmpMailPermission' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Cert = New-TestCertificate -Subject 'CN=pmp-mail permission test'
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory -CertificatePem $Cert.ExportCertificatePem())
        $script:PfxPassword = ConvertTo-SecureString 'pfx-pässword' -AsPlainText -Force
        $script:ep = Get-EndpointParameters
        $script:PfxPath = Join-Path $Emulator.StateDir 'app.pfx'
        [IO.File]::WriteAllBytes($PfxPath, $Cert.Export([Security.Cryptography.X509Certificates.X509ContentType]::Pfx, 'pfx-pässword'))
    }
    AfterAll {
        Stop-TestEmulator $script:Emulator
    }

    Context 'credential forms' {
        It 'accepts a client secret as SecureString' {
            $sp = Get-SecretParameters
            $result = Test-PmpMailPermission @sp
            ($result | Where-Object Permission -EQ 'Mail.Send').Status | Should -Be 'Granted'
            $result[0].PSObject.TypeNames | Should -Contain 'PmpMail.PermissionStatus'
            $result[0].AppId | Should -Be $AppFull
            $result[0].TenantId | Should -Be $TenantId
            $result[0].AppDisplayName | Should -Be 'Patch notifications — Überwachung'
            $result[0].TokenExpiresOn | Should -BeGreaterThan ([DateTimeOffset]::UtcNow)
        }

        It 'accepts a PSCredential whose user name is the client id' {
            $credential = [pscredential]::new($AppFull, (ConvertTo-SecureString $GoodSecret -AsPlainText -Force))
            $result = Test-PmpMailPermission -TenantId $TenantDomain -ClientSecretCredential $credential @ep
            ($result | Where-Object Permission -EQ 'Mail.Send').Status | Should -Be 'Granted'
        }

        It 'accepts a PFX path and password (relative path resolved against the current location)' {
            Push-Location $Emulator.StateDir
            try {
                Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -CertificatePath './app.pfx' -CertificatePassword $PfxPassword @ep -Quiet |
                    Should -BeTrue
            }
            finally { Pop-Location }
        }

        It 'accepts an X509Certificate2 object' {
            Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -Certificate $Cert @ep -Quiet | Should -BeTrue
        }

        It 'finds a certificate by thumbprint in CurrentUser\My and reports the stores searched when absent' {
            $store = [Security.Cryptography.X509Certificates.X509Store]::new('My', 'CurrentUser')
            $store.Open('ReadWrite')
            # Persist the key with the certificate, as an import into the store would.
            $persisted = [Security.Cryptography.X509Certificates.X509Certificate2]::new($Cert.Export('Pfx', 'tmp'), 'tmp', [Security.Cryptography.X509Certificates.X509KeyStorageFlags]'PersistKeySet,Exportable')
            $store.Add($persisted)
            try {
                Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint.ToLowerInvariant() @ep -Quiet |
                    Should -BeTrue
                $verbose = Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep -Quiet -Verbose 4>&1 |
                    Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
                $verbose.Message | Should -Contain "Certificate $($Cert.Thumbprint) found in CurrentUser\My."
            }
            finally {
                $store.Remove($persisted)
                $store.Close()
            }
            $err = $null
            { Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep } |
                Should -Throw -ErrorId 'PmpMail.CertificateNotFound,PmpMail.Commands.TestPmpMailPermissionCommand'
            try { Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint $Cert.Thumbprint @ep }
            catch { $err = $_ }
            $err.Exception.Message | Should -Match 'CurrentUser\\My'
            $err.Exception.Message | Should -Match 'LocalMachine\\My'
        }

        It 'refuses a thumbprint without hexadecimal digits before searching any store' {
            { Test-PmpMailPermission -TenantId $TenantId -ClientId $AppFull -CertificateThumbprint ' :: ' @ep } |
                Should -Throw -ErrorId 'PmpMail.CertificateThumbprintInvalid,PmpMail.Commands.TestPmpMailPermissionCommand'
        }
    }

    Context 'Granted and Missing' {
        It 'reports Mail.ReadWrite Missing for an app with only Mail.Send' {
            $sp = Get-SecretParameters -ClientId $AppSendOnly
            $result = Test-PmpMailPermission @sp
            ($result | Where-Object Permission -EQ 'Mail.Send').Status | Should -Be 'Granted'
            ($result | Where-Object Permission -EQ 'Mail.ReadWrite').Status | Should -Be 'Missing'
            ($result | Where-Object Permission -EQ 'Mail.Send').Required | Should -BeTrue
        }

        It 'reports Mail.Send Missing and -Quiet $false for an app without roles' {
            $sp = Get-SecretParameters -ClientId $AppNoRoles
            $result = Test-PmpMailPermission @sp
            ($result | Where-Object Permission -EQ 'Mail.Send').Status | Should -Be 'Missing'
            $sp = Get-SecretParameters -ClientId $AppNoRoles
            Test-PmpMailPermission @sp -Quiet | Should -BeFalse
        }

        It 'formats the status as a connection status table' {
            $sp = Get-SecretParameters -ClientId $AppSendOnly
            $text = Test-PmpMailPermission @sp | Out-String
            $text | Should -Match 'App Registration Connection Status'
            $text | Should -Match 'Mail\.Send\s+OK'
            $text | Should -Match 'Mail\.ReadWrite\s+Missing'
        }

        It 'shows the token source and steps with -Verbose' {
            $sp = Get-SecretParameters
            $verbose = Test-PmpMailPermission @sp -ForceRefresh -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            ($verbose.Message -join "`n") | Should -Match 'token'
            ($verbose.Message -join "`n") | Should -Not -Match ([regex]::Escape($GoodSecret))
        }
    }

    Context 'advisory warnings' {
        It 'writes no warning when everything is granted, and keeps the advice in the result' {
            $sp = Get-SecretParameters
            $warnings = $null
            $result = Test-PmpMailPermission @sp -WarningVariable warnings
            $warnings | Should -BeNullOrEmpty -Because 'a scheduled check that finds everything granted must be silent'
            $send = $result | Where-Object Permission -EQ 'Mail.Send'
            $send.Status | Should -Be 'Granted'
            @($send.Warnings).Count | Should -BeGreaterOrEqual 3
            ($send.Warnings -join "`n") | Should -Match 'ANY mailbox'
            ($send.Warnings -join "`n") | Should -Match 'RBAC'
        }

        It 'shows the advice as warnings with -Detailed and as verbose lines with -Verbose' {
            $sp = Get-SecretParameters
            $warnings = $null
            $null = Test-PmpMailPermission @sp -Detailed -WarningVariable warnings -WarningAction SilentlyContinue
            @($warnings).Count | Should -BeGreaterOrEqual 3
            ($warnings -join "`n") | Should -Match 'ANY mailbox'
            $warnings = $null
            $verbose = Test-PmpMailPermission @sp -Verbose -WarningVariable warnings 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            ($verbose.Message -join "`n") | Should -Match 'ANY mailbox'
        }

        It 'shows the warnings when a permission is missing' {
            $sp = Get-SecretParameters -ClientId $AppSendOnly
            $warnings = $null
            $result = Test-PmpMailPermission @sp -WarningVariable warnings -WarningAction SilentlyContinue
            ($result | Where-Object Permission -EQ 'Mail.ReadWrite').Status | Should -Be 'Missing'
            ($warnings -join "`n") | Should -Match 'Mail.ReadWrite is missing'
        }

        It 'names -ForceRefresh, not the native option, in the advice for a missing Mail.Send' {
            $sp = Get-SecretParameters -ClientId $AppNoRoles
            $warnings = $null
            $result = Test-PmpMailPermission @sp -WarningVariable warnings -WarningAction SilentlyContinue
            ($warnings -join "`n") | Should -CMatch 'Mail.Send is not in the token.*-ForceRefresh'
            ($result[0].Warnings -join "`n") | Should -Not -CMatch '\bforceRefresh'
        }
    }

    Context 'authentication failures' {
        It 'reports <Case> as <ErrorId>' -TestCases @(
            @{ Case = 'a wrong secret'; ClientId = '22222222-2222-2222-2222-222222222222'; Secret = 'wrong'; Tenant = '11111111-1111-1111-1111-111111111111'; ErrorId = 'PmpMail.AuthenticationFailed.AADSTS7000215' }
            @{ Case = 'an expired secret'; ClientId = '55555555-5555-5555-5555-555555555555'; Secret = 'expired-secret-value'; Tenant = '11111111-1111-1111-1111-111111111111'; ErrorId = 'PmpMail.AuthenticationFailed.AADSTS7000222' }
            @{ Case = 'an unknown app'; ClientId = '99999999-9999-9999-9999-999999999999'; Secret = 'x'; Tenant = '11111111-1111-1111-1111-111111111111'; ErrorId = 'PmpMail.AuthenticationFailed.AADSTS700016' }
            @{ Case = 'an unknown tenant'; ClientId = '22222222-2222-2222-2222-222222222222'; Secret = 'x'; Tenant = 'nosuchtenant.onmicrosoft.com'; ErrorId = 'PmpMail.AuthenticationFailed.AADSTS90002' }
        ) {
            $errors = $null
            $sp = Get-SecretParameters -ClientId $ClientId -Secret $Secret -Tenant $Tenant
            $out = Test-PmpMailPermission @sp -ErrorAction SilentlyContinue -ErrorVariable errors
            $out | Should -BeNullOrEmpty
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -Be "$ErrorId,PmpMail.Commands.TestPmpMailPermissionCommand"
            $errors[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
            $errors[0].Exception.Remedy | Should -Not -BeNullOrEmpty
            $errors[0].ToString() | Should -Match 'Remedy: '
            $errors[0].Exception | Should -BeOfType ([PmpMail.Interop.PmpMailAuthenticationException])
            $sp = Get-SecretParameters -ClientId $ClientId -Secret $Secret -Tenant $Tenant
            Test-PmpMailPermission @sp -Quiet | Should -BeFalse
        }
    }
}
