# Secretless credentials against the emulator: -ManagedIdentity (App Service and IMDS, system- and user-assigned),
# -FederatedTokenFile (workload identity), -EnvironmentVariable (the AZURE_* variables), and their profiles.
# The platform's variables are set in this process with [Environment]::SetEnvironmentVariable and restored after
# every test; the module reads them in .NET and hands them to the native library.
Describe 'Managed identity, workload identity and -EnvironmentVariable' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        # The identities of tests/it/managed_identity.rs: the host's system-assigned identity (Mail.Send), a
        # user-assigned one with Mail.Send and a federated credential, and a user-assigned one without roles.
        $script:MiSystem = 'a0000000-0000-0000-0000-000000000001'
        $script:MiSystemOid = 'a0000000-0000-0000-0000-0000000000a1'
        $script:MiUser = 'b0000000-0000-0000-0000-000000000001'
        $script:MiUserOid = 'b0000000-0000-0000-0000-0000000000b1'
        $script:MiUserResourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/sender'
        $script:MiNoRoles = 'c0000000-0000-0000-0000-000000000001'
        $script:MiNoRolesOid = 'c0000000-0000-0000-0000-0000000000c1'
        $script:Issuer = 'https://oidc.cluster.example.test/5f3c'
        $script:Subject = 'system:serviceaccount:mail:sender'
        $script:IdentityHeaderValue = 'pester-identity-header-' + [guid]::NewGuid().ToString('n')

        $script:Cert = New-TestCertificate -Subject 'CN=pmp-mail environment credential test'
        $directory = Get-TestDirectory -CertificatePem $Cert.ExportCertificatePem()
        $directory.identityHeader = $IdentityHeaderValue
        $directory.managedIdentities = @(
            @{ tenant = $TenantId; kind = 'system'; clientId = $MiSystem; objectId = $MiSystemOid; displayName = 'patch-host'; roles = @('Mail.Send') }
            @{
                tenant = $TenantId; kind = 'user'; clientId = $MiUser; objectId = $MiUserOid; resourceId = $MiUserResourceId
                displayName = 'sender'; roles = @('Mail.Send')
                federatedCredentials = @(@{ name = 'aks'; issuer = $Issuer; subject = $Subject })
            }
            @{
                tenant = $TenantId; kind = 'user'; clientId = $MiNoRoles; objectId = $MiNoRolesOid
                resourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idle'
                displayName = 'idle'; roles = @()
            }
        )
        $script:Emulator = Start-TestEmulator -Directory $directory
        $script:ep = Get-EndpointParameters
        # A managed identity's token comes from the local endpoint: only Graph and the emulator's CA are needed.
        $script:mi = @{ GraphRoot = $Emulator.BaseUrl; TrustedCaPath = $Emulator.CaPath }

        $script:Variables = 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IMDS_ENDPOINT', 'AZURE_POD_IDENTITY_AUTHORITY_HOST',
        'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH',
        'AZURE_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_USERNAME', 'AZURE_PASSWORD', 'AZURE_AUTHORITY_HOST'
        $script:Saved = @{}
        foreach ($name in $Variables) { $Saved[$name] = [Environment]::GetEnvironmentVariable($name) }
        $script:SavedProfileDir = [Environment]::GetEnvironmentVariable('PMP_MAIL_PROFILE_DIR')
        [Environment]::SetEnvironmentVariable('PMP_MAIL_PROFILE_DIR', (Join-Path $Emulator.StateDir 'profiles'))

        function Set-ProcessVariable([string] $Name, [string] $Value) {
            # [NullString]::Value removes the variable; $null would set it to an empty string.
            [Environment]::SetEnvironmentVariable($Name, ($null -eq $Value ? [NullString]::Value : $Value))
        }
        function Restore-Variables {
            foreach ($name in $Variables) { Set-ProcessVariable $name $Saved[$name] }
        }
        function Clear-Variables {
            foreach ($name in $Variables) { Set-ProcessVariable $name $null }
        }
        function Set-AppService {
            Set-ProcessVariable 'IDENTITY_ENDPOINT' "$($Emulator.BaseUrl)/MSI/token"
            Set-ProcessVariable 'IDENTITY_HEADER' $IdentityHeaderValue
        }
        function Set-Imds {
            Set-ProcessVariable 'AZURE_POD_IDENTITY_AUTHORITY_HOST' $Emulator.BaseUrl
        }
        function New-FederatedToken([int] $LifetimeSeconds = 3600) {
            (Invoke-Emulator 'federation/token' -Method POST -Body @{ issuer = $Issuer; subject = $Subject; lifetimeSeconds = $LifetimeSeconds }).token
        }
        function Get-VerboseText([object[]] $Records) {
            @($Records | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message) -join "`n"
        }
        $script:TokenDir = Join-Path $Emulator.StateDir 'workload'
        New-Item -ItemType Directory -Path $TokenDir | Out-Null
        $script:TokenFile = Join-Path $TokenDir 'azure-identity-token'
    }
    AfterAll {
        Disconnect-PmpMail
        Restore-Variables
        [Environment]::SetEnvironmentVariable('PMP_MAIL_PROFILE_DIR', ($null -eq $SavedProfileDir ? [NullString]::Value : $SavedProfileDir))
        Stop-TestEmulator $script:Emulator
    }
    BeforeEach {
        Invoke-Emulator 'reset' -Method POST | Out-Null
        Clear-Variables
    }
    AfterEach {
        Disconnect-PmpMail
        Restore-Variables
    }

    Context 'managed identity' {
        It 'Send-PmpMail -ManagedIdentity sends as the system-assigned identity through App Service (IDENTITY_ENDPOINT, IDENTITY_HEADER)' {
            Set-AppService
            $out = Send-PmpMail -ManagedIdentity @mi -To 'ops@contoso.com' -Subject 'via app service' -From $Mailbox -PassThru -Verbose 4>&1
            ($out | Where-Object { $_ -is [PmpMail.SendResult] }).Status | Should -Be 'sent'
            $messages = Get-EmulatorMessages
            $messages.Count | Should -Be 1
            $messages[0].subject | Should -Be 'via app service'
            $messages[0].appId | Should -Be $MiSystem
            $tokens = @(Invoke-Emulator 'tokens')
            $tokens.credential | Should -Be 'managedIdentity:appService'
            $verbose = Get-VerboseText $out
            $verbose | Should -Match ([regex]::Escape('Managed identity (system-assigned) through App Service (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)'))
            $verbose | Should -Not -Match ([regex]::Escape($IdentityHeaderValue))
        }

        It 'Send-PmpMail -Identity -ClientId sends as a user-assigned identity through IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST)' {
            Set-Imds
            Send-PmpMail -Identity -ClientId $MiUser @mi -To 'ops@contoso.com' -Subject 'via imds' -From $Mailbox
            (Get-EmulatorMessages).appId | Should -Be $MiUser
            (Invoke-Emulator 'tokens').credential | Should -Be 'managedIdentity:imds'
        }

        It 'selects a user-assigned identity by -ManagedIdentityObjectId or -ManagedIdentityResourceId, and refuses two selectors' {
            Set-AppService
            (Test-PmpMailPermission -ManagedIdentity -ManagedIdentityObjectId $MiUserOid @mi -WarningAction SilentlyContinue)[0].AppId | Should -Be $MiUser
            (Test-PmpMailPermission -ManagedIdentity -ManagedIdentityResourceId $MiUserResourceId @mi -WarningAction SilentlyContinue)[0].AppId | Should -Be $MiUser
            $err = { Test-PmpMailPermission -ManagedIdentity -ClientId $MiUser -ManagedIdentityObjectId $MiUserOid @mi } |
                Should -Throw -ErrorId 'PmpMail.ManagedIdentityIdConflict,PmpMail.Commands.TestPmpMailPermissionCommand' -PassThru
            "$err" | Should -Match '-ClientId and -ManagedIdentityObjectId'
            @(Invoke-Emulator 'tokens').Count | Should -Be 2 -Because 'the refused call asks for no token'
        }

        It 'Test-PmpMailPermission -ManagedIdentity -ClientId of an identity without roles: Mail.Send Missing, the grant names its object id' {
            Set-AppService
            $result = Test-PmpMailPermission -ManagedIdentity -ClientId $MiNoRoles @mi -WarningVariable warned -WarningAction SilentlyContinue
            $send = $result | Where-Object Permission -EQ 'Mail.Send'
            $send.Status | Should -Be 'Missing'
            $send.AppId | Should -Be $MiNoRoles
            $grant = @($send.Warnings | Where-Object { $_ -match 'New-MgServicePrincipalAppRoleAssignment' })
            $grant.Count | Should -Be 1
            $grant[0] | Should -Match ([regex]::Escape("New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $MiNoRolesOid -PrincipalId $MiNoRolesOid"))
            $grant[0] | Should -Match ([regex]::Escape("servicePrincipals/$MiNoRolesOid/appRoleAssignments"))
            $grant[0] | Should -Match 'test again with -ForceRefresh'
            "$warned" | Should -Match ([regex]::Escape($MiNoRolesOid)) -Because 'a missing permission shows the advice as warnings'
        }

        It 'an identity not assigned to the resource fails with a remedy that names the PowerShell parameters' {
            Set-AppService
            $err = $null
            Test-PmpMailPermission -ManagedIdentity -ClientId 'd0000000-0000-0000-0000-000000000009' @mi -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'PmpMail.AuthenticationFailed*,PmpMail.Commands.TestPmpMailPermissionCommand'
            "$($err[0])" | Should -Match 'd0000000-0000-0000-0000-000000000009 is not assigned'
            "$($err[0])" | Should -Match '-ClientId, -ManagedIdentityObjectId or -ManagedIdentityResourceId'
            "$($err[0])" | Should -Not -Match 'auth\.(clientId|objectId|resourceId)'
            Invoke-Emulator 'tokens' | Should -BeNullOrEmpty
        }

        It 'describes a managed identity connection without tenant or app; Connect-PmpMail learns its client id and warns about Mail.Send' {
            $connection = New-PmpMailConnection -ManagedIdentity @mi
            try {
                $connection.CredentialType | Should -Be 'ManagedIdentity'
                $connection.TenantId | Should -BeNullOrEmpty
                $connection.ClientId | Should -BeNullOrEmpty
                $connection.ManagedIdentity | Should -Be 'system-assigned'
                "$connection" | Should -Be 'managed identity (system-assigned)'
            }
            finally { $connection.Dispose() }
            Get-EmulatorCounters | ForEach-Object tokenRequests | Should -Be 0 -Because 'New-PmpMailConnection asks for nothing'

            Set-AppService
            $system = Connect-PmpMail -ManagedIdentity @mi -PassThru -WarningVariable none
            $none | Should -BeNullOrEmpty
            $system.ClientId | Should -Be $MiSystem
            "$system" | Should -Be "managed identity (system-assigned, client id $MiSystem)"
            Send-PmpMail -To 'ops@contoso.com' -Subject 'session' -From $Mailbox
            (Get-EmulatorMessages).appId | Should -Be $MiSystem

            $idle = Connect-PmpMail -ManagedIdentity -ClientId $MiNoRoles @mi -PassThru -WarningVariable warned -WarningAction SilentlyContinue
            "$warned" | Should -Match ([regex]::Escape("managed identity $MiNoRoles does not hold the Mail.Send application permission"))
            "$idle" | Should -Be "managed identity (user-assigned, client id $MiNoRoles)"
        }
    }

    Context 'workload identity (-FederatedTokenFile)' {
        It 'sends with a minted token; tenant and client id from AZURE_TENANT_ID and AZURE_CLIENT_ID; a relative path is resolved against the location' {
            Set-Content -LiteralPath $TokenFile -Value (New-FederatedToken) -NoNewline
            Set-ProcessVariable 'AZURE_TENANT_ID' $TenantId
            Set-ProcessVariable 'AZURE_CLIENT_ID' $MiUser
            Push-Location $TokenDir
            try {
                Send-PmpMail -FederatedTokenFile './azure-identity-token' @ep -To 'ops@contoso.com' -Subject 'federated' -From $Mailbox
            }
            finally { Pop-Location }
            (Get-EmulatorMessages).appId | Should -Be $MiUser
            (Invoke-Emulator 'tokens').credential | Should -Be 'federated'
        }

        It 'reads the rewritten token file on the next token request (Test-PmpMailPermission -ForceRefresh), not before' {
            Set-Content -LiteralPath $TokenFile -Value (New-FederatedToken) -NoNewline
            $connection = Connect-PmpMail -TenantId $TenantId -ClientId $MiUser -FederatedTokenFile $TokenFile @ep -PassThru
            $connection.CredentialType | Should -Be 'WorkloadIdentity'
            $connection.FederatedTokenFile | Should -Be $TokenFile
            "$connection" | Should -Be "$MiUser @ $TenantId (WorkloadIdentity)"
            # Connect-PmpMail's token may be the process's already (an earlier test used this file).
            $tokensBefore = @(Invoke-Emulator 'tokens').Count

            Set-Content -LiteralPath $TokenFile -Value (New-FederatedToken -LifetimeSeconds -3600) -NoNewline
            Test-PmpMailPermission -Quiet | Should -BeTrue -Because 'the cached token is still valid'
            Test-PmpMailPermission -ForceRefresh -ErrorVariable failed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $failed[0].FullyQualifiedErrorId | Should -Be 'PmpMail.AuthenticationFailed.AADSTS700024,PmpMail.Commands.TestPmpMailPermissionCommand'

            Set-Content -LiteralPath $TokenFile -Value (New-FederatedToken) -NoNewline
            Test-PmpMailPermission -ForceRefresh -Quiet | Should -BeTrue
            @(Invoke-Emulator 'tokens').Count | Should -Be ($tokensBefore + 1) -Because 'the last refresh got a token; the expired assertion got none'
        }

        It 'names the variable when neither -TenantId nor AZURE_TENANT_ID (or -ClientId nor AZURE_CLIENT_ID) is given' {
            Set-Content -LiteralPath $TokenFile -Value (New-FederatedToken) -NoNewline
            $err = { New-PmpMailConnection -FederatedTokenFile $TokenFile -ClientId $MiUser @ep } |
                Should -Throw -ErrorId 'PmpMail.WorkloadIdentityTenantMissing,PmpMail.Commands.NewPmpMailConnectionCommand' -PassThru
            "$err" | Should -Match 'AZURE_TENANT_ID'
            $err = { Send-PmpMail -FederatedTokenFile $TokenFile -TenantId $TenantId @ep -To 'ops@contoso.com' -From $Mailbox } |
                Should -Throw -ErrorId 'PmpMail.WorkloadIdentityClientIdMissing,PmpMail.Commands.SendPmpMailCommand' -PassThru
            "$err" | Should -Match 'AZURE_CLIENT_ID'
            Get-EmulatorMessages | Should -BeNullOrEmpty
        }
    }

    Context 'client assertion from a script block (-ClientAssertion)' {
        It 'runs the script block in this session, once per token, with the request; the message is sent as the app' {
            $script:asked = [System.Collections.Generic.List[object]]::new()
            $subject = $Subject  # a caller's variable the script block reads
            $sb = {
                param($Request)
                $script:asked.Add($Request)
                (Invoke-Emulator 'federation/token' -Method POST -Body @{ issuer = $Issuer; subject = $subject }).token
            }
            $connection = Connect-PmpMail -TenantId $TenantId -ClientId $MiUser -ClientAssertion $sb @ep -PassThru
            $connection.CredentialType | Should -Be 'ClientAssertion'
            Send-PmpMail -To 'ops@contoso.com' -Subject 'assertion 1' -From $Mailbox
            Send-PmpMail -To 'ops@contoso.com' -Subject 'assertion 2' -From $Mailbox
            @(Get-EmulatorMessages).appId | Should -Be @($MiUser, $MiUser)
            (Invoke-Emulator 'tokens').credential | Should -Be 'federated'
            $asked.Count | Should -Be 1 -Because 'Connect-PmpMail got the token; the sends used the cache'
            $asked[0].ClientId | Should -Be $MiUser
            $asked[0].TokenUrl | Should -Be "$($Emulator.BaseUrl)/$TenantId/oauth2/v2.0/token"
            # A refresh asks again, on this cmdlet's pipeline thread.
            Test-PmpMailPermission -ForceRefresh -Quiet | Should -BeTrue
            $asked.Count | Should -Be 2
        }

        It 'fails with the script block''s own error, and sends nothing' {
            $err = { Send-PmpMail -TenantId $TenantId -ClientId $MiUser -ClientAssertion { throw 'OIDC endpoint unreachable' } @ep -To 'ops@contoso.com' -From $Mailbox } |
                Should -Throw -ErrorId 'PmpMail.SignerFailed,PmpMail.Commands.SendPmpMailCommand' -PassThru
            $err.Exception.ToString() | Should -Match 'OIDC endpoint unreachable'
            Get-EmulatorMessages | Should -BeNullOrEmpty
            (Get-EmulatorCounters).tokenRequests | Should -Be 0
        }

        It 'refuses output that is not a token, and a token for another subject with its AADSTS code' {
            { Test-PmpMailPermission -TenantId $TenantId -ClientId $MiUser -ClientAssertion { } @ep } |
                Should -Throw -ErrorId 'PmpMail.SignerFailed,PmpMail.Commands.TestPmpMailPermissionCommand'
            $wrong = (Invoke-Emulator 'federation/token' -Method POST -Body @{ issuer = $Issuer; subject = 'system:serviceaccount:mail:other' }).token
            $report = Test-PmpMailPermission -TenantId $TenantId -ClientId $MiUser -ClientAssertion { $wrong } @ep -ErrorVariable failed -ErrorAction SilentlyContinue
            $failed[0].FullyQualifiedErrorId | Should -Be 'PmpMail.AuthenticationFailed.AADSTS700213,PmpMail.Commands.TestPmpMailPermissionCommand'
            "$($failed[0])" | Should -Not -Match ([regex]::Escape($wrong))
        }

        It 'is not saved in a profile' {
            { Register-PmpMailProfile -Name 'assertion' -TenantId $TenantId -ClientId $MiUser -ClientAssertion { 'x' } } |
                Should -Throw -ErrorId 'PmpMail.ClientAssertionNotSaved,PmpMail.Commands.RegisterPmpMailProfileCommand'
            Get-PmpMailProfile -Name 'assertion' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        }
    }

    Context '-EnvironmentVariable' {
        It 'Connect-PmpMail -EnvironmentVariable takes AZURE_CLIENT_SECRET (and AZURE_AUTHORITY_HOST); Send-PmpMail then needs no credentials' {
            Set-ProcessVariable 'AZURE_TENANT_ID' $TenantId
            Set-ProcessVariable 'AZURE_CLIENT_ID' $AppSendOnly
            Set-ProcessVariable 'AZURE_CLIENT_SECRET' $GoodSecret
            Set-ProcessVariable 'AZURE_AUTHORITY_HOST' $Emulator.BaseUrl
            $out = Connect-PmpMail -EnvironmentVariable -GraphRoot $Emulator.BaseUrl -TrustedCaPath $Emulator.CaPath -PassThru -Verbose 4>&1
            $connection = $out | Where-Object { $_ -is [PmpMail.PmpMailConnection] }
            $connection.CredentialType | Should -Be 'ClientSecretEnvironmentVariable'
            $connection.ClientId | Should -Be $AppSendOnly
            $connection.EnvironmentVariables | Should -Be @('AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_AUTHORITY_HOST')
            $verbose = Get-VerboseText $out
            $verbose | Should -Match 'client secret from AZURE_CLIENT_SECRET'
            $verbose | Should -Match 'from AZURE_AUTHORITY_HOST'
            $verbose | Should -Not -Match ([regex]::Escape($GoodSecret))

            Send-PmpMail -To 'ops@contoso.com' -Subject 'from the environment' -From $Mailbox
            $messages = Get-EmulatorMessages
            $messages.subject | Should -Be 'from the environment'
            $messages.appId | Should -Be $AppSendOnly
        }

        It 'takes a PFX (with AZURE_CLIENT_CERTIFICATE_PASSWORD) or PEM file from AZURE_CLIENT_CERTIFICATE_PATH, else AZURE_FEDERATED_TOKEN_FILE' {
            Set-ProcessVariable 'AZURE_TENANT_ID' $TenantId
            Set-ProcessVariable 'AZURE_CLIENT_ID' $AppFull
            $pfx = Join-Path $Emulator.StateDir 'env-app.pfx'
            [IO.File]::WriteAllBytes($pfx, $Cert.Export([Security.Cryptography.X509Certificates.X509ContentType]::Pfx, 'pfx-pässword'))
            Set-ProcessVariable 'AZURE_CLIENT_CERTIFICATE_PATH' $pfx
            Set-ProcessVariable 'AZURE_CLIENT_CERTIFICATE_PASSWORD' 'pfx-pässword'
            $connection = New-PmpMailConnection -EnvironmentVariable @ep
            try {
                $connection.CredentialType | Should -Be 'CertificatePath'
                $connection.CertificateThumbprint | Should -Be $Cert.Thumbprint
                Send-PmpMail -Connection $connection -To 'ops@contoso.com' -Subject 'env pfx' -From $Mailbox
            }
            finally { $connection.Dispose() }

            $pem = Join-Path $Emulator.StateDir 'env-app.pem'
            Set-Content -LiteralPath $pem -Value ($Cert.ExportCertificatePem() + "`n" + [Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Cert).ExportPkcs8PrivateKeyPem()) -NoNewline
            Set-ProcessVariable 'AZURE_CLIENT_CERTIFICATE_PATH' $pem
            Set-ProcessVariable 'AZURE_CLIENT_CERTIFICATE_PASSWORD' $null
            $connection = New-PmpMailConnection -EnvironmentVariable @ep
            try {
                $connection.CredentialType | Should -Be 'CertificatePem'
                Send-PmpMail -Connection $connection -To 'ops@contoso.com' -Subject 'env pem' -From $Mailbox
            }
            finally { $connection.Dispose() }

            Set-ProcessVariable 'AZURE_CLIENT_CERTIFICATE_PATH' $null
            Set-ProcessVariable 'AZURE_CLIENT_ID' $MiUser
            # A token file of its own: a token fetched with $TokenFile is cached by the process, and this
            # send must make its own token request (the record shows which credential it used).
            $envTokenFile = Join-Path $Emulator.StateDir 'env-federated-token'
            Set-Content -LiteralPath $envTokenFile -Value (New-FederatedToken) -NoNewline
            Set-ProcessVariable 'AZURE_FEDERATED_TOKEN_FILE' $envTokenFile
            Send-PmpMail -EnvironmentVariable @ep -To 'ops@contoso.com' -Subject 'env federated' -From $Mailbox

            $messages = Get-EmulatorMessages
            ($messages | Where-Object subject -EQ 'env pfx').appId | Should -Be $AppFull
            ($messages | Where-Object subject -EQ 'env pem').appId | Should -Be $AppFull
            ($messages | Where-Object subject -EQ 'env federated').appId | Should -Be $MiUser
            (Invoke-Emulator 'tokens').credential | Should -Be @('certificate', 'certificate', 'federated')
        }

        It 'fails with PmpMail.EnvironmentCredentialNotFound, listing each variable read, when nothing usable is set' {
            $err = { Send-PmpMail -EnvironmentVariable @ep -To 'ops@contoso.com' -From $Mailbox } |
                Should -Throw -ErrorId 'PmpMail.EnvironmentCredentialNotFound,PmpMail.Commands.SendPmpMailCommand' -PassThru
            foreach ($name in 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_FEDERATED_TOKEN_FILE') {
                "$err" | Should -Match "$name \(not set\)"
            }

            # A secret without its tenant: the missing variable is named, the secret is not shown.
            Set-ProcessVariable 'AZURE_CLIENT_ID' $AppFull
            Set-ProcessVariable 'AZURE_CLIENT_SECRET' $GoodSecret
            $err = { Connect-PmpMail -EnvironmentVariable @ep } |
                Should -Throw -ErrorId 'PmpMail.EnvironmentCredentialNotFound,PmpMail.Commands.ConnectPmpMailCommand' -PassThru
            "$err" | Should -Match 'AZURE_CLIENT_SECRET is set, but AZURE_TENANT_ID is not'
            "$err" | Should -Match 'AZURE_CLIENT_ID \(set\)'
            "$err" | Should -Not -Match ([regex]::Escape($GoodSecret))
            (Get-EmulatorCounters).tokenRequests | Should -Be 0
            Get-EmulatorMessages | Should -BeNullOrEmpty
        }

        It 'refuses user credentials (AZURE_USERNAME, AZURE_PASSWORD) with PmpMail.EnvironmentUserCredentialNotSupported' {
            Set-ProcessVariable 'AZURE_TENANT_ID' $TenantId
            Set-ProcessVariable 'AZURE_CLIENT_ID' $AppFull
            Set-ProcessVariable 'AZURE_USERNAME' 'ann@contoso.com'
            Set-ProcessVariable 'AZURE_PASSWORD' 'user-pässword-value'
            $err = { Connect-PmpMail -EnvironmentVariable @ep } |
                Should -Throw -ErrorId 'PmpMail.EnvironmentUserCredentialNotSupported,PmpMail.Commands.ConnectPmpMailCommand' -PassThru
            "$err" | Should -Match 'not support'
            "$err" | Should -Not -Match 'user-pässword-value'
            (Get-EmulatorCounters).tokenRequests | Should -Be 0
        }
    }

    Context 'profiles' {
        It 'round-trips ManagedIdentity profiles (system- and user-assigned): Register, Get, Send-PmpMail -ProfileName' {
            Register-PmpMailProfile -Name 'mi-user' -ManagedIdentity -ClientId $MiUser @mi
            Register-PmpMailProfile -Name 'mi-system' -Identity @mi
            $user = Get-PmpMailProfile -Name 'mi-user'
            $user.CredentialType | Should -Be 'ManagedIdentity'
            $user.ClientId | Should -Be $MiUser
            $user.TenantId | Should -BeNullOrEmpty
            $user.GraphRoot | Should -Be ([uri]$Emulator.BaseUrl)
            $system = Get-PmpMailProfile -Name 'mi-system'
            $system.CredentialType | Should -Be 'ManagedIdentity'
            $system.ClientId | Should -BeNullOrEmpty
            (Get-PmpMailProfile -Name 'mi-*' | Out-String -Width 300) | Should -Match 'system-assigned'

            Set-AppService
            Send-PmpMail -ProfileName 'mi-user' -To 'ops@contoso.com' -Subject 'profile user' -From $Mailbox
            Send-PmpMail -ProfileName 'mi-system' -To 'ops@contoso.com' -Subject 'profile system' -From $Mailbox
            $messages = Get-EmulatorMessages
            ($messages | Where-Object subject -EQ 'profile user').appId | Should -Be $MiUser
            ($messages | Where-Object subject -EQ 'profile system').appId | Should -Be $MiSystem
            foreach ($file in Get-ChildItem (Join-Path $Emulator.StateDir 'profiles') -Filter 'mi-*.json') {
                Get-Content -Raw $file.FullName | Should -Not -Match ([regex]::Escape($IdentityHeaderValue))
            }
            Unregister-PmpMailProfile -Name 'mi-user', 'mi-system' -Confirm:$false
        }

        It 'WorkloadIdentity and EnvironmentVariable profiles read the AZURE_* variables where they are used' {
            Set-Content -LiteralPath $TokenFile -Value (New-FederatedToken) -NoNewline
            Register-PmpMailProfile -Name 'wi' -FederatedTokenFile $TokenFile @ep
            Register-PmpMailProfile -Name 'env' -EnvironmentVariable @ep
            $wi = Get-PmpMailProfile -Name 'wi'
            $wi.CredentialType | Should -Be 'WorkloadIdentity'
            $wi.FederatedTokenFile | Should -Be $TokenFile
            $wi.TenantId | Should -BeNullOrEmpty
            (Get-PmpMailProfile -Name 'env').CredentialType | Should -Be 'EnvironmentVariable'
            { Send-PmpMail -ProfileName 'wi' -To 'ops@contoso.com' -From $Mailbox } |
                Should -Throw -ErrorId 'PmpMail.WorkloadIdentityTenantMissing,PmpMail.Commands.SendPmpMailCommand'

            Set-ProcessVariable 'AZURE_TENANT_ID' $TenantId
            Set-ProcessVariable 'AZURE_CLIENT_ID' $MiUser
            Send-PmpMail -ProfileName 'wi' -To 'ops@contoso.com' -Subject 'profile wi' -From $Mailbox
            Set-ProcessVariable 'AZURE_CLIENT_ID' $AppSendOnly
            Set-ProcessVariable 'AZURE_CLIENT_SECRET' $GoodSecret
            Send-PmpMail -ProfileName 'env' -To 'ops@contoso.com' -Subject 'profile env' -From $Mailbox
            $messages = Get-EmulatorMessages
            ($messages | Where-Object subject -EQ 'profile wi').appId | Should -Be $MiUser
            ($messages | Where-Object subject -EQ 'profile env').appId | Should -Be $AppSendOnly
            foreach ($name in 'wi', 'env') {
                Get-Content -Raw (Join-Path $Emulator.StateDir 'profiles' "$name.json") | Should -Not -Match ([regex]::Escape($GoodSecret))
            }
            Unregister-PmpMailProfile -Name 'wi', 'env' -Confirm:$false
        }
    }
}
